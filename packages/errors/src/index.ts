/**
 * The error catalogue: every failure Keelson reports on purpose has an application code here, with its
 * HTTP status and default message. Domain packages throw `AppError` and know nothing of tRPC: the tRPC
 * layer (`@keelson/trpc`) and the plain HTTP routes translate it, each in one place. Anything else
 * thrown is a bug and reaches clients only as a generic internal error with a request id.
 *
 * `docs/errors.md` documents every code; a test fails when one is missing there.
 */

/** The statuses the catalogue uses; each has exactly one tRPC code (see `@keelson/trpc`'s errors). */
export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 429 | 500 | 503;

interface CatalogueEntry {
  /** The HTTP status the client gets (over tRPC: the tRPC code of that status). */
  status: ErrorStatus;
  /** The message a client sees when the thrower gives none. */
  message: string;
}

export const errorCatalogue = {
  VALIDATION_FAILED: { status: 400, message: 'The input is not valid.' },
  WEAK_PASSWORD: { status: 400, message: 'This password is too common; choose another.' },
  INVALID_TOKEN: { status: 400, message: 'This link is invalid, used or expired.' },
  CART_EMPTY: { status: 400, message: 'Your cart is empty.' },
  CART_QUANTITY_LIMIT: { status: 400, message: 'A cart line holds at most 99 units.' },
  CART_FULL: { status: 400, message: 'A cart holds at most 100 different products.' },
  UNAUTHENTICATED: { status: 401, message: 'Sign in to do this.' },
  INVALID_CREDENTIALS: { status: 401, message: 'Wrong email or password.' },
  FORBIDDEN: { status: 403, message: 'You are not allowed to do this.' },
  CSRF_REJECTED: { status: 403, message: 'Cross-site request refused.' },
  ORIGIN_NOT_ALLOWED: { status: 403, message: 'This origin may not call the API.' },
  OIDC_REJECTED: { status: 403, message: 'Sign-in with this provider was refused.' },
  PRODUCT_NOT_FOUND: { status: 404, message: 'No such product.' },
  USER_NOT_FOUND: { status: 404, message: 'No such user.' },
  SESSION_NOT_FOUND: { status: 404, message: 'No such session.' },
  CART_ITEM_NOT_FOUND: { status: 404, message: 'This product is not in your cart.' },
  ORDER_NOT_FOUND: { status: 404, message: 'No such order.' },
  REPORT_NOT_FOUND: { status: 404, message: 'No such report.' },
  JOB_NOT_FOUND: { status: 404, message: 'No such job.' },
  NOTIFICATION_NOT_FOUND: { status: 404, message: 'No such notification.' },
  CONVERSATION_NOT_FOUND: { status: 404, message: 'No such conversation.' },
  CHAT_MESSAGE_NOT_FOUND: { status: 404, message: 'No such message.' },
  EMAIL_TAKEN: { status: 409, message: 'An account with this email already exists.' },
  PRODUCT_UNAVAILABLE: { status: 409, message: 'This product is no longer available.' },
  OUT_OF_STOCK: { status: 409, message: 'Some products in your cart are out of stock.' },
  PRICE_CHANGED: { status: 409, message: 'Prices changed since you saw your cart; review the new total.' },
  IDEMPOTENCY_KEY_REUSED: {
    status: 409,
    message: 'This idempotency key was already used for a different checkout.',
  },
  ILLEGAL_TRANSITION: { status: 409, message: 'The order cannot change to this status from its current one.' },
  SLUG_TAKEN: { status: 409, message: 'Another product already uses this slug.' },
  INSUFFICIENT_STOCK: { status: 409, message: 'Not enough stock.' },
  STOCK_LIMIT_EXCEEDED: { status: 409, message: 'Stock would exceed the maximum.' },
  REPORT_NOT_READY: {
    status: 409,
    message: 'This report has no file: it is still being generated, or it failed.',
  },
  JOB_RUNNING: { status: 409, message: 'This job is running; wait for it to finish or fail.' },
  EVENTS_EXPIRED: {
    status: 409,
    message: 'Events after this lastEventId are no longer kept; reload the state and subscribe without lastEventId.',
  },
  CONFLICT: { status: 409, message: 'The request conflicts with the current state.' },
  METHOD_NOT_ALLOWED: {
    status: 405,
    message: 'This method is not allowed here; the Allow header lists those that are.',
  },
  RATE_LIMITED: { status: 429, message: 'Too many requests; try again later.' },
  SHUTTING_DOWN: { status: 503, message: 'This server is restarting; reconnect.' },
  DATABASE_UNAVAILABLE: {
    status: 503,
    message: 'The service is briefly unavailable; try again in a moment.',
  },
  INTERNAL: { status: 500, message: 'Something went wrong on our side.' },
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

  get status(): ErrorStatus {
    return errorCatalogue[this.code].status;
  }
}

/** Normalises anything thrown into an `Error`, keeping the original as `cause` (graphile-worker's `coerceError`). */
export function coerceError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  const message = typeof thrown === 'string' ? thrown : 'Non-error value thrown';
  return new Error(message, { cause: thrown });
}
