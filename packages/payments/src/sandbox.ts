/**
 * A sandbox payment provider with Stripe-style test tokens, for development, demos and tests:
 *
 * | token                 | authorize                                                     |
 * | --------------------- | ------------------------------------------------------------- |
 * | `tok_visa`            | succeeds                                                      |
 * | `tok_chargeDeclined`  | declined (`card_declined`)                                    |
 * | `tok_processingError` | fails transiently `transientFailures` times, then succeeds    |
 * | anything else         | declined (`invalid_token`)                                    |
 *
 * Captures are refused once the authorization is voided (`authorization_voided`); voiding an
 * authorization that was captured answers with the capture, so the caller refunds it instead.
 *
 * It behaves like a remote provider: its state lives in its own table (`payment_sandbox_operation`),
 * written in its own transactions (never the caller's), keyed by idempotency key. A repeated key
 * returns the first outcome, a key reused with other parameters is refused, and transient failures
 * are counted per key across every worker process.
 */
import { randomBytes } from 'node:crypto';
import type { Database, MikroORM } from '@keelson/db';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import {
  type AuthorizeRequest,
  type CaptureRequest,
  PaymentDeclinedError,
  type PaymentProvider,
  PaymentTransientError,
  type RefundRequest,
  type VoidRequest,
  type VoidResult,
} from './provider.ts';

export interface SandboxOptions {
  /** Transient failures `tok_processingError` returns before it succeeds. */
  transientFailures: number;
}

type Operation = 'authorize' | 'capture' | 'refund' | 'void';

interface Row {
  operation: Operation;
  result_id: string | null;
  reference: string | null;
  token: string | null;
  /** bigint: the driver returns a string, whatever the entity's type says; read it with Number(). */
  amount_cents: number | string;
  currency: string;
  status: 'succeeded' | 'declined' | 'failing';
  decline_reason: string | null;
  failures: number;
}

type Outcome = { ok: true; id: string } | { ok: false; declined?: string; transient?: string };

const PREFIX: Record<Operation, string> = { authorize: 'auth', capture: 'ch', refund: 're', void: 'void' };

const DECLINE_MESSAGES: Record<string, string> = {
  card_declined: 'Your card was declined.',
  invalid_token: 'The payment token is not valid.',
  authorization_voided: 'The payment authorization was cancelled.',
};
/** Typed SQL on the entities' tables, in `tx`'s transaction. */
const kysely = (tx: EntityManager) => tx.getKysely<Database>();

const newId = (op: Operation) => `${PREFIX[op]}_sandbox_${randomBytes(9).toString('base64url')}`;

/** A programming error on the caller's side (Stripe answers these with HTTP 400): never retried. */
export class SandboxRequestError extends Error {
  override name = 'SandboxRequestError';
}

export function createSandboxProvider(orm: MikroORM, options: SandboxOptions): PaymentProvider {
  /**
   * Runs one operation under its idempotency key: the row is created (or found) and locked, `decide`
   * runs only if no earlier call succeeded or was declined, and the outcome is committed before it is
   * reported, so a crash between the two is answered identically next time.
   */
  async function run(
    op: Operation,
    req: { idempotencyKey: string; amountCents: number; currency: string; token?: string; reference?: string },
    decide: (tx: EntityManager, row: Row) => Promise<Outcome>,
  ): Promise<string> {
    const outcome = await orm.em.fork().transactional(async (tx) => {
      const db = kysely(tx);
      await db
        .insertInto('payment_sandbox_operation')
        .values({
          idempotency_key: req.idempotencyKey,
          operation: op,
          token: req.token ?? null,
          reference: req.reference ?? null,
          amount_cents: req.amountCents,
          currency: req.currency,
          status: 'failing',
          failures: 0,
          created_at: sql`now()`,
          updated_at: sql`now()`,
        })
        .onConflict((oc) => oc.column('idempotency_key').doNothing())
        .execute();
      const row = await db
        .selectFrom('payment_sandbox_operation')
        .select(['operation', 'result_id', 'reference', 'token', 'amount_cents', 'currency', 'status'])
        .select(['decline_reason', 'failures'])
        .where('idempotency_key', '=', req.idempotencyKey)
        .forUpdate()
        .executeTakeFirst();
      if (!row) throw new Error('sandbox: operation row vanished');
      if (
        row.operation !== op ||
        Number(row.amount_cents) !== req.amountCents ||
        row.currency !== req.currency ||
        row.token !== (req.token ?? null) ||
        row.reference !== (req.reference ?? null)
      ) {
        throw new SandboxRequestError(`Idempotency key ${req.idempotencyKey} was used with other parameters`);
      }
      if (row.status === 'succeeded' && row.result_id) return { ok: true, id: row.result_id } as Outcome;
      if (row.status === 'declined') return { ok: false, declined: row.decline_reason ?? 'card_declined' } as Outcome;
      const outcome = await decide(tx, row);
      const status = outcome.ok ? 'succeeded' : outcome.declined ? 'declined' : 'failing';
      await db
        .updateTable('payment_sandbox_operation')
        .set((eb) => ({
          status,
          result_id: outcome.ok ? outcome.id : null,
          decline_reason: outcome.ok ? null : (outcome.declined ?? null),
          failures: eb('failures', '+', outcome.ok || outcome.declined ? 0 : 1),
          updated_at: sql`now()`,
        }))
        .where('idempotency_key', '=', req.idempotencyKey)
        .execute();
      return outcome;
    });
    if (outcome.ok) return outcome.id;
    if (outcome.declined) {
      throw new PaymentDeclinedError(outcome.declined, DECLINE_MESSAGES[outcome.declined] ?? 'Payment declined.');
    }
    throw new PaymentTransientError(outcome.transient ?? 'processing_error');
  }

  /**
   * The succeeded operation with this result id (the authorization a capture refers to, the capture a
   * refund refers to), locked: a capture and a void of one authorization take turns.
   */
  async function succeeded(tx: EntityManager, op: Operation, id: string) {
    return kysely(tx)
      .selectFrom('payment_sandbox_operation')
      .select(['amount_cents', 'currency', sql<boolean>`voided_at is not null`.as('voided')])
      .where('operation', '=', op)
      .where('result_id', '=', id)
      .where('status', '=', 'succeeded')
      .forUpdate()
      .executeTakeFirst();
  }

  /** The succeeded capture of an authorization, if any. */
  async function captureOf(tx: EntityManager, authorizationId: string): Promise<string | null> {
    const row = await kysely(tx)
      .selectFrom('payment_sandbox_operation')
      .select('result_id')
      .where('operation', '=', 'capture')
      .where('reference', '=', authorizationId)
      .where('status', '=', 'succeeded')
      .executeTakeFirst();
    return row?.result_id ?? null;
  }

  return {
    name: 'sandbox',
    async authorize(req: AuthorizeRequest) {
      const id = await run('authorize', req, async (_tx, row) => {
        switch (req.token) {
          case 'tok_visa':
            return { ok: true, id: newId('authorize') };
          case 'tok_chargeDeclined':
            return { ok: false, declined: 'card_declined' };
          case 'tok_processingError':
            return row.failures < options.transientFailures
              ? { ok: false, transient: 'processing_error' }
              : { ok: true, id: newId('authorize') };
          default:
            return { ok: false, declined: 'invalid_token' };
        }
      });
      return { authorizationId: id };
    },
    async capture(req: CaptureRequest) {
      const id = await run('capture', { ...req, reference: req.authorizationId }, async (tx) => {
        const auth = await succeeded(tx, 'authorize', req.authorizationId);
        if (!auth) throw new SandboxRequestError(`No authorization ${req.authorizationId}`);
        if (auth.voided) return { ok: false, declined: 'authorization_voided' };
        if (req.amountCents > Number(auth.amount_cents) || req.currency !== auth.currency) {
          throw new SandboxRequestError('Capture exceeds the authorization');
        }
        return { ok: true, id: newId('capture') };
      });
      return { captureId: id };
    },
    async refund(req: RefundRequest) {
      const id = await run('refund', { ...req, reference: req.captureId }, async (tx) => {
        const charge = await succeeded(tx, 'capture', req.captureId);
        if (!charge) throw new SandboxRequestError(`No capture ${req.captureId}`);
        const refunded = await kysely(tx)
          .selectFrom('payment_sandbox_operation')
          .select((eb) => eb.fn.sum<string | null>('amount_cents').as('total'))
          .where('operation', '=', 'refund')
          .where('reference', '=', req.captureId)
          .where('status', '=', 'succeeded')
          .executeTakeFirst();
        if (Number(refunded?.total ?? 0) + req.amountCents > Number(charge.amount_cents)) {
          throw new SandboxRequestError('Refund exceeds the captured amount');
        }
        return { ok: true, id: newId('refund') };
      });
      return { refundId: id };
    },
    async void(req: VoidRequest): Promise<VoidResult> {
      const id = await run(
        'void',
        { ...req, reference: req.authorizationId, amountCents: 0, currency: 'XXX' },
        async (tx) => {
          const auth = await succeeded(tx, 'authorize', req.authorizationId);
          if (!auth) throw new SandboxRequestError(`No authorization ${req.authorizationId}`);
          const captured = await captureOf(tx, req.authorizationId);
          if (captured) return { ok: true, id: `captured:${captured}` };
          await kysely(tx)
            .updateTable('payment_sandbox_operation')
            .set({ voided_at: sql`now()` })
            .where('operation', '=', 'authorize')
            .where('result_id', '=', req.authorizationId)
            .execute();
          return { ok: true, id: newId('void') };
        },
      );
      return id.startsWith('captured:') ? { status: 'captured', captureId: id.slice(9) } : { status: 'voided' };
    },
  };
}
