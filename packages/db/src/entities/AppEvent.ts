import { defineEntity, p } from '@mikro-orm/core';

/**
 * The realtime outbox: one row per event a subscriber may want (an order's status, a product's stock).
 * Written in the transaction of the change it describes, so an event exists exactly when the change
 * committed. Its `position` orders events and is the cursor a client resumes from (`lastEventId`); it
 * is null until the sequencer (`sequenceEvents`) numbers the row, after its transaction committed.
 */
export const AppEventSchema = defineEntity({
  name: 'AppEvent',
  tableName: 'app_event',
  properties: {
    /** Insertion order only: ids are taken before commit, so they do not commit in order. */
    id: p.bigint('number').primary().autoincrement(),
    /**
     * The event's place in the log, gapless and visible in order (see `sequenceEvents`); null until
     * sequenced. What clients see as the event id.
     */
    position: p.bigint('number').nullable().unique(),
    /** `order`, `stock`, `notification`, `chat`. */
    topic: p.string().length(32),
    /**
     * The only user who may see it; null for public events (stock). Deliberately no foreign key: the
     * outbox is append-only and pruned by age, and a deleted user's events are simply never delivered.
     */
    userId: p.uuid().nullable(),
    payload: p.json<Record<string, unknown>>(),
    createdAt: p
      .datetime()
      .defaultRaw('now()')
      .onCreate(() => new Date()),
  },
  indexes: [
    {
      // The sequencer's work list: small (rows committed since its last run), read on every wake-up.
      name: 'app_event_unsequenced_idx',
      expression: 'create index "app_event_unsequenced_idx" on "app_event" ("id") where "position" is null',
    },
  ],
});

export class AppEvent extends AppEventSchema.class {}
AppEventSchema.setClass(AppEvent);

/**
 * How far pruning went: every event at or below `position` is gone, so a client resuming from a lower
 * cursor has missed events for good. One row (id 1), written by `pruneEvents`; absent until a first prune.
 */
export const AppEventPrunedSchema = defineEntity({
  name: 'AppEventPruned',
  tableName: 'app_event_pruned',
  properties: {
    // Always 1: one mark, upserted.
    id: p.smallint().primary().autoincrement(false),
    position: p.bigint('number'),
  },
});

export class AppEventPruned extends AppEventPrunedSchema.class {}
AppEventPrunedSchema.setClass(AppEventPruned);
