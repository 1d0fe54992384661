import { defineEntity, p } from '@mikro-orm/core';
import { Product } from './Product.ts';

/**
 * An append-only event stream (product views now; the analytics issue adds `analytics.track`).
 * Requests only insert here; counters derived from it are computed by worker jobs.
 */
export const AnalyticsEventSchema = defineEntity({
  name: 'AnalyticsEvent',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    name: p.string().length(64),
    product: () => p.manyToOne(Product).nullable().deleteRule('set null'),
    occurredAt: p.datetime().onCreate(() => new Date()),
    props: p.json<Record<string, unknown>>().nullable(),
  },
  // Roll-ups read one product's events of one kind.
  indexes: [{ properties: ['product', 'name'] }],
});

export class AnalyticsEvent extends AnalyticsEventSchema.class {}
AnalyticsEventSchema.setClass(AnalyticsEvent);
