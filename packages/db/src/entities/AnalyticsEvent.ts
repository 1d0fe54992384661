import { defineEntity, p } from '@mikro-orm/core';
import { Product } from './Product.ts';
import { User } from './User.ts';

/**
 * An append-only event stream: product views (`catalog.recordView`) and whatever clients send with
 * `analytics.track`. Requests only insert here; counters and roll-ups derived from it are computed by
 * worker jobs.
 */
export const AnalyticsEventSchema = defineEntity({
  name: 'AnalyticsEvent',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    name: p.string().length(64),
    product: () => p.manyToOne(Product).nullable().deleteRule('set null'),
    /** The signed-in user who sent it; null for anonymous callers. */
    user: () => p.manyToOne(User).nullable().deleteRule('set null'),
    /** When it happened, as the client said (within limits); roll-ups bucket by this. */
    occurredAt: p.datetime().onCreate(() => new Date()),
    /**
     * When the API stored it. An event may arrive late (a client's offline queue), so the hourly
     * roll-up also re-rolls every hour that received events since its previous runs.
     */
    receivedAt: p
      .datetime()
      .defaultRaw('now()')
      .onCreate(() => new Date()),
    props: p.json<Record<string, unknown>>().nullable(),
  },
  indexes: [
    // Roll-ups read one product's events of one kind.
    { properties: ['product', 'name'] },
    // The hourly roll-up reads an hour's events, and finds the hours that received late ones.
    { name: 'analytics_event_occurred_at_idx', properties: ['occurredAt'] },
    { name: 'analytics_event_received_at_idx', properties: ['receivedAt'] },
  ],
});

export class AnalyticsEvent extends AnalyticsEventSchema.class {}
AnalyticsEventSchema.setClass(AnalyticsEvent);

/**
 * Events per UTC hour, name and product (null: events without a product), rebuilt by the hourly
 * `analytics__rollup` job: an hour is deleted and re-inserted in one transaction, so re-running it
 * gives the same rows.
 */
export const AnalyticsHourlySchema = defineEntity({
  name: 'AnalyticsHourly',
  tableName: 'analytics_hourly',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    hour: p.datetime(),
    name: p.string().length(64),
    product: () => p.manyToOne(Product).nullable().deleteRule('cascade'),
    count: p.integer(),
  },
  indexes: [{ name: 'analytics_hourly_hour_idx', properties: ['hour', 'name'] }],
});

export class AnalyticsHourly extends AnalyticsHourlySchema.class {}
AnalyticsHourlySchema.setClass(AnalyticsHourly);

/** The conversion funnel per UTC hour (raw event counts of each step), rebuilt like `analytics_hourly`. */
export const AnalyticsFunnelHourlySchema = defineEntity({
  name: 'AnalyticsFunnelHourly',
  tableName: 'analytics_funnel_hourly',
  properties: {
    hour: p.datetime().primary(),
    productViewed: p.integer(),
    addToCart: p.integer(),
    checkoutStarted: p.integer(),
    checkoutCompleted: p.integer(),
  },
});

export class AnalyticsFunnelHourly extends AnalyticsFunnelHourlySchema.class {}
AnalyticsFunnelHourlySchema.setClass(AnalyticsFunnelHourly);
