import { defineEntity, p } from '@mikro-orm/core';

export const sandboxOperations = ['authorize', 'capture', 'refund', 'void'] as const;

/**
 * The built-in sandbox payment provider's own ledger. It stands in for an external provider's
 * records: one row per idempotency key, so a retried call returns the first result, and transient
 * failures are counted per key across worker processes. Nothing else reads or writes this table.
 */
export const SandboxPaymentSchema = defineEntity({
  name: 'SandboxPayment',
  tableName: 'payment_sandbox_operation',
  properties: {
    idempotencyKey: p.string().length(255).primary(),
    operation: p.enum(sandboxOperations),
    /** The id this operation returned (`auth_…`, `ch_…`, `re_…`); null while it has not succeeded. */
    resultId: p.string().length(64).nullable(),
    /** The authorization or charge it applies to (capture, refund). */
    reference: p.string().length(64).nullable(),
    token: p.string().length(255).nullable(),
    amountCents: p.bigint('number'),
    currency: p.string().length(3),
    status: p.enum(['succeeded', 'declined', 'failing'] as const),
    /** Why it was declined (`card_declined`, `invalid_token`, `authorization_voided`). */
    declineReason: p.string().length(64).nullable(),
    /** Set on an authorization once it is voided: it can no longer be captured. */
    voidedAt: p.datetime().nullable(),
    /** Transient failures returned so far (`tok_processingError`). */
    failures: p.integer().default(0),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});

export class SandboxPayment extends SandboxPaymentSchema.class {}
SandboxPaymentSchema.setClass(SandboxPayment);
