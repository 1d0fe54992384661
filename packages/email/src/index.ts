export {
  type Delivery,
  DeliveryInProgressError,
  type DeliveryResult,
  describeDelivery,
  messageIdFor,
  sendOnce,
} from './deliveries.ts';
export { createMailer, type MailConfig, type Mailer, type Message, type SentMessage } from './mailer.ts';
export {
  accountExistsMessage,
  chatReplyMessage,
  formatMoney,
  type OrderSummary,
  orderStatusMessage,
  passwordResetMessage,
  verifyEmailMessage,
} from './templates.ts';
