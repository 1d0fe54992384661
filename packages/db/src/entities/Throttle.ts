import { defineEntity, p } from '@mikro-orm/core';

/**
 * Abuse counters shared by every API process: one row per (bucket, key), e.g. failed log-ins per
 * account or per IP. Kept in PostgreSQL so a limit holds however many replicas serve the traffic.
 */
export const ThrottleSchema = defineEntity({
  name: 'Throttle',
  tableName: 'auth_throttle',
  properties: {
    bucket: p.string().length(32).primary(),
    key: p.string().length(320).primary(),
    hits: p.integer().default(0),
    windowStartedAt: p.datetime(),
    blockedUntil: p.datetime().nullable(),
  },
});

export class Throttle extends ThrottleSchema.class {}
ThrottleSchema.setClass(Throttle);
