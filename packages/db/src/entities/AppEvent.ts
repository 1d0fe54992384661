import { defineEntity, p } from '@mikro-orm/core';

/**
 * The realtime outbox: one row per event a subscriber may want (an order's status, a product's stock).
 * Written in the transaction of the change it describes, so an event exists exactly when the change
 * committed; its id orders events and is the cursor a client resumes from (`lastEventId`).
 */
export const AppEventSchema = defineEntity({
  name: 'AppEvent',
  tableName: 'app_event',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    /** `order`, `stock`, `notification`. */
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
});

export class AppEvent extends AppEventSchema.class {}
AppEventSchema.setClass(AppEvent);
