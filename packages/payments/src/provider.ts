/**
 * The payment provider boundary. Orders talk to this interface only; the built-in sandbox implements it,
 * and a real provider (Stripe, Adyen, ...) would too. Every call carries an idempotency key, so a job
 * retried after a crash or a timeout never charges twice: the provider answers a repeated key with
 * the first result.
 */

export interface AuthorizeRequest {
  /** The client-side token standing for the card (never card data). */
  token: string;
  amountCents: number;
  currency: string;
  idempotencyKey: string;
}

export interface CaptureRequest {
  authorizationId: string;
  amountCents: number;
  currency: string;
  idempotencyKey: string;
}

export interface RefundRequest {
  captureId: string;
  amountCents: number;
  currency: string;
  idempotencyKey: string;
}

export interface VoidRequest {
  authorizationId: string;
  idempotencyKey: string;
}

/** What voiding found: the hold released, or the authorization already captured (then refund that). */
export type VoidResult = { status: 'voided' } | { status: 'captured'; captureId: string };

export interface PaymentProvider {
  readonly name: string;
  /** Reserves the amount on the card; throws `PaymentDeclinedError` or `PaymentTransientError`. */
  authorize(request: AuthorizeRequest): Promise<{ authorizationId: string }>;
  /** Takes the authorized money. */
  capture(request: CaptureRequest): Promise<{ captureId: string }>;
  /** Gives captured money back. */
  refund(request: RefundRequest): Promise<{ refundId: string }>;
  /**
   * Releases an authorization that will not be captured; a later capture of it is declined
   * (`authorization_voided`). If it was captured already, says so with the capture's id.
   */
  void(request: VoidRequest): Promise<VoidResult>;
}

/** The provider refused the payment for good (declined card, invalid token): retrying cannot help. */
export class PaymentDeclinedError extends Error {
  override name = 'PaymentDeclinedError';
  /** The provider's reason code, e.g. `card_declined`. */
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** A failure that may pass (processing error, timeout, rate limit): retry later with the same key. */
export class PaymentTransientError extends Error {
  override name = 'PaymentTransientError';
}
