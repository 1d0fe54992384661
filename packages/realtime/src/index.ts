/**
 * Realtime, in one place: the outbox (events written in the writer's transaction, numbered after commit),
 * the process's hub with its one LISTEN connection, and the guard that keeps live subscriptions safe
 * (session re-checks, connection slots, shutdown). See docs/glossary.md for the words.
 */
export { type Coalesced, type CoalescedOptions, coalesced } from './coalesce.ts';
export {
  createRealtime,
  type LiveSession,
  type Realtime,
  type RealtimeLimits,
  type RealtimeOptions,
  type SlotOwner,
  type WatchedIdentity,
} from './guard.ts';
export {
  type ChannelHandler,
  createEventHub,
  type EventHub,
  type EventHubOptions,
  type SubscribeOptions,
} from './hub.ts';
export {
  createListener,
  type Listener,
  type ListenerLogger,
  type ListenerNotification,
  type ListenerOptions,
} from './listener.ts';
export {
  EVENTS_CHANNEL,
  EVENTS_PENDING_CHANNEL,
  EventsExpiredError,
  type EventTopic,
  eventLogBounds,
  eventTopics,
  type PublishedEvent,
  pruneEvents,
  publishEvent,
  publishEvents,
  readEventsAfter,
  type StoredEvent,
  sequenceEvents,
} from './outbox.ts';
export { type WakeUp, wakeUp } from './wakeUp.ts';
