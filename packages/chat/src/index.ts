export {
  assign,
  type ChatSettings,
  chatGauges,
  conversationSide,
  defaultChatSettings,
  getConversation,
  hideMessage,
  history,
  idAfter,
  listOwnConversations,
  markRead,
  openConversation,
  type SendHooks,
  type Side,
  sendMessage,
  setStatus,
  staffInbox,
  type Viewer,
} from './conversations.ts';
export * from './schemas.ts';
export { createTypingBus, publishTyping, TYPING_CHANNEL, TYPING_INTERVAL_MS, type TypingBus } from './typing.ts';
export { type UnreadBurst, type UnreadVerdict, unreadBurst } from './unread.ts';
