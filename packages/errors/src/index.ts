/**
 * The error catalogue: every failure Keelson reports on purpose has an application code here, and each
 * code maps to exactly one tRPC code (and so one HTTP status). Domain packages throw `AppError`; the
 * tRPC layer translates it in one place. Anything else thrown is a bug and reaches clients only as a
 * generic INTERNAL_SERVER_ERROR with a request id.
 *
 * `docs/errors.md` documents every code; a test fails when one is missing there.
 */
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server';

interface CatalogueEntry {
  /** The tRPC code the client sees; it decides the HTTP status. */
  trpc: TRPC_ERROR_CODE_KEY;
  /** The message a client sees when the thrower gives none. */
  message: string;
}

export const errorCatalogue = {
  VALIDATION_FAILED: { trpc: 'BAD_REQUEST', message: 'The input is not valid.' },
  WEAK_PASSWORD: { trpc: 'BAD_REQUEST', message: 'This password is too common; choose another.' },
  INVALID_TOKEN: { trpc: 'BAD_REQUEST', message: 'This link is invalid, used or expired.' },
  CART_EMPTY: { trpc: 'BAD_REQUEST', message: 'Your cart is empty.' },
  CART_QUANTITY_LIMIT: { trpc: 'BAD_REQUEST', message: 'A cart line holds at most 99 units.' },
  CART_FULL: { trpc: 'BAD_REQUEST', message: 'A cart holds at most 100 different products.' },
  UNAUTHENTICATED: { trpc: 'UNAUTHORIZED', message: 'Sign in to do this.' },
  INVALID_CREDENTIALS: { trpc: 'UNAUTHORIZED', message: 'Wrong email or password.' },
  FORBIDDEN: { trpc: 'FORBIDDEN', message: 'You are not allowed to do this.' },
  CSRF_REJECTED: { trpc: 'FORBIDDEN', message: 'Cross-site request refused.' },
  ORIGIN_NOT_ALLOWED: { trpc: 'FORBIDDEN', message: 'This origin may not call the API.' },
  OIDC_REJECTED: { trpc: 'FORBIDDEN', message: 'Sign-in with this provider was refused.' },
  PRODUCT_NOT_FOUND: { trpc: 'NOT_FOUND', message: 'No such product.' },
  USER_NOT_FOUND: { trpc: 'NOT_FOUND', message: 'No such user.' },
  SESSION_NOT_FOUND: { trpc: 'NOT_FOUND', message: 'No such session.' },
  CART_ITEM_NOT_FOUND: { trpc: 'NOT_FOUND', message: 'This product is not in your cart.' },
  ORDER_NOT_FOUND: { trpc: 'NOT_FOUND', message: 'No such order.' },
  REPORT_NOT_FOUND: { trpc: 'NOT_FOUND', message: 'No such report.' },
  JOB_NOT_FOUND: { trpc: 'NOT_FOUND', message: 'No such job.' },
  NOTIFICATION_NOT_FOUND: { trpc: 'NOT_FOUND', message: 'No such notification.' },
  CONVERSATION_NOT_FOUND: { trpc: 'NOT_FOUND', message: 'No such conversation.' },
  CHAT_MESSAGE_NOT_FOUND: { trpc: 'NOT_FOUND', message: 'No such message.' },
  EMAIL_TAKEN: { trpc: 'CONFLICT', message: 'An account with this email already exists.' },
  PRODUCT_UNAVAILABLE: { trpc: 'CONFLICT', message: 'This product is no longer available.' },
  OUT_OF_STOCK: { trpc: 'CONFLICT', message: 'Some products in your cart are out of stock.' },
  PRICE_CHANGED: { trpc: 'CONFLICT', message: 'Prices changed since you saw your cart; review the new total.' },
  IDEMPOTENCY_KEY_REUSED: {
    trpc: 'CONFLICT',
    message: 'This idempotency key was already used for a different checkout.',
  },
  ILLEGAL_TRANSITION: { trpc: 'CONFLICT', message: 'The order cannot change to this status from its current one.' },
  SLUG_TAKEN: { trpc: 'CONFLICT', message: 'Another product already uses this slug.' },
  INSUFFICIENT_STOCK: { trpc: 'CONFLICT', message: 'Not enough stock.' },
  STOCK_LIMIT_EXCEEDED: { trpc: 'CONFLICT', message: 'Stock would exceed the maximum.' },
  REPORT_NOT_READY: {
    trpc: 'CONFLICT',
    message: 'This report has no file: it is still being generated, or it failed.',
  },
  JOB_RUNNING: { trpc: 'CONFLICT', message: 'This job is running; wait for it to finish or fail.' },
  EVENTS_EXPIRED: {
    trpc: 'CONFLICT',
    message: 'Events after this lastEventId are no longer kept; reload the state and subscribe without lastEventId.',
  },
  CONFLICT: { trpc: 'CONFLICT', message: 'The request conflicts with the current state.' },
  METHOD_NOT_ALLOWED: {
    trpc: 'METHOD_NOT_SUPPORTED',
    message: 'This method is not allowed here; the Allow header lists those that are.',
  },
  RATE_LIMITED: { trpc: 'TOO_MANY_REQUESTS', message: 'Too many requests; try again later.' },
  SHUTTING_DOWN: { trpc: 'SERVICE_UNAVAILABLE', message: 'This server is restarting; reconnect.' },
  DATABASE_UNAVAILABLE: {
    trpc: 'SERVICE_UNAVAILABLE',
    message: 'The service is briefly unavailable; try again in a moment.',
  },
  INTERNAL: { trpc: 'INTERNAL_SERVER_ERROR', message: 'Something went wrong on our side.' },
} as const satisfies Record<string, CatalogueEntry>;

export type AppErrorCode = keyof typeof errorCatalogue;

export class AppError extends Error {
  override name = 'AppError';
  readonly code: AppErrorCode;
  /** Safe to show to the client (no internals): which ids, which fields. */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: AppErrorCode,
    options: { message?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(options.message ?? errorCatalogue[code].message, { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }

  get trpcCode(): TRPC_ERROR_CODE_KEY {
    return errorCatalogue[this.code].trpc;
  }
}

/** Normalises anything thrown into an `Error`, keeping the original as `cause` (graphile-worker's `coerceError`). */
export function coerceError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  const message = typeof thrown === 'string' ? thrown : 'Non-error value thrown';
  return new Error(message, { cause: thrown });
}
