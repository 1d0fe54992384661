/**
 * What `analytics.track` accepts and what `analytics.summary` answers.
 *
 * Glossary
 * - event name: one of `eventNames`; anything else is BAD_REQUEST, so typos never become new series.
 * - funnel: product_viewed → add_to_cart → checkout_started → checkout_completed, as raw event counts
 *   (anonymous callers have no stable identity to count distinct visitors by).
 */
import { storableText } from '@keelson/db';
import { z } from 'zod';

const MINUTE = 60 * 1000;
const DAY = 24 * 60 * MINUTE;

export const eventNames = [
  'product_viewed',
  'add_to_cart',
  'checkout_started',
  'checkout_completed',
  'search',
] as const;
export type EventName = (typeof eventNames)[number];

/** The funnel's steps, in order. */
export const funnelSteps = ['product_viewed', 'add_to_cart', 'checkout_started', 'checkout_completed'] as const;

export const MAX_EVENTS_PER_CALL = 100;
/** Client clocks run fast: `at` may be this far in the future. */
export const MAX_CLOCK_SKEW_MS = 5 * MINUTE;
/** Older events are refused (an offline queue older than this is stale). */
export const MAX_EVENT_AGE_MS = 7 * DAY;
export const MAX_PROPS = 20;
export const MAX_PROPS_BYTES = 1024;

const propKey = z
  .string()
  .min(1)
  .max(40)
  .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, `_`, `.` and `-` only');
// Values are data, not text to show: only storable (jsonb refuses NUL and a lone surrogate's escape).
const propValue = z.union([
  z.string().max(200).regex(storableText.pattern, storableText.message),
  z.number(),
  z.boolean(),
  z.null(),
]);

/** A flat object of at most 20 short keys with scalar values, at most 1 KiB as JSON. */
export const eventProps = z
  .record(propKey, propValue)
  .refine((p) => Object.keys(p).length <= MAX_PROPS, `at most ${MAX_PROPS} properties`)
  .refine((p) => Buffer.byteLength(JSON.stringify(p)) <= MAX_PROPS_BYTES, `at most ${MAX_PROPS_BYTES} bytes as JSON`);

export const trackedEvent = z
  .object({
    name: z.enum(eventNames),
    productId: z.uuid().optional(),
    /** When it happened; default: when received. */
    at: z.coerce.date().optional(),
    props: eventProps.optional(),
  })
  .superRefine((e, ctx) => {
    if (!e.at) return;
    const now = Date.now();
    if (e.at.getTime() > now + MAX_CLOCK_SKEW_MS) {
      ctx.addIssue({ code: 'custom', path: ['at'], message: 'in the future' });
    } else if (e.at.getTime() < now - MAX_EVENT_AGE_MS) {
      ctx.addIssue({ code: 'custom', path: ['at'], message: 'older than 7 days' });
    }
  });
export type TrackedEvent = z.infer<typeof trackedEvent>;

export const trackInput = z.object({ events: z.array(trackedEvent).min(1).max(MAX_EVENTS_PER_CALL) });
export type TrackInput = z.infer<typeof trackInput>;

export const trackResult = z.object({
  /** Events stored. */
  accepted: z.number().int(),
  /** Events dropped because their `productId` names no product. */
  dropped: z.number().int(),
});
export type TrackResult = z.infer<typeof trackResult>;

const RANGE_DAYS = 366;
export const summaryInput = z
  .object({
    from: z.coerce.date(),
    to: z.coerce.date(),
    /** How many products `topProducts` lists. */
    topProducts: z.number().int().min(1).max(100).default(10),
  })
  .refine((r) => r.from < r.to, { message: '`from` must be before `to`', path: ['to'] })
  .refine((r) => r.to.getTime() - r.from.getTime() <= RANGE_DAYS * DAY, {
    message: `at most ${RANGE_DAYS} days`,
    path: ['to'],
  });
export type SummaryInput = z.input<typeof summaryInput>;

export const summary = z.object({
  from: z.date(),
  to: z.date(),
  /** Events per name (every name, 0 when none). */
  totals: z.array(z.object({ name: z.enum(eventNames), count: z.number().int() })),
  /** Most viewed products, most views first. */
  topProducts: z.array(z.object({ productId: z.uuid(), name: z.string(), views: z.number().int() })),
  funnel: z.object({
    steps: z.array(
      z.object({
        name: z.enum(funnelSteps),
        count: z.number().int(),
        /** count ÷ the previous step's count; null for the first step or when the previous is 0. */
        conversion: z.number().nullable(),
      }),
    ),
    /** checkout_completed ÷ product_viewed; null without views. */
    overallConversion: z.number().nullable(),
  }),
});
export type Summary = z.infer<typeof summary>;
