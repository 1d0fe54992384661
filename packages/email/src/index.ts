export { createMailer, type MailConfig, type Mailer, type Message, type SentMessage } from './mailer.ts';
export { passwordResetMessage, verifyEmailMessage } from './templates.ts';
