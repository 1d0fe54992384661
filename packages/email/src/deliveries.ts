/**
 * At-most-once sending per business event. A job that sent its email and then failed (or ran twice,
 * or was enqueued twice for the same event) must not send it again:
 *
 * 1. claim the event's row for a lease (`insert ... on conflict do update ... where not sent and the
 *    previous lease lapsed`): whoever gets the row sends; a concurrent duplicate finds it claimed and
 *    retries later (DeliveryInProgressError), by when it is sent. The retry of the job holding the lease
 *    takes it back at once if no send was attempted yet (`message_id` is written just before sending):
 *    graphile-worker runs one attempt of a job at a time, and a claim whose answer or release was lost
 *    with a database connection would otherwise hold the email back for the whole lease;
 * 2. compose the message only then (tasks that mint a token do it here, so a skipped resend mints none);
 * 3. send, and stamp `sent_at`.
 *
 * A stamp that fails (the database connection lost just then) is retried, and once a send was attempted
 * no retry takes the claim back before the lease lapses. The one window left is a crash between the SMTP
 * server accepting the message and the stamp, or a database away for longer than those retries: after
 * the lease the retry sends again, with the same Message-ID (derived from the key), which lets mail
 * systems drop it.
 */
import { createHash } from 'node:crypto';
import type { Database } from '@keelson/db';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import type { Mailer, Message, SentMessage } from './mailer.ts';

/** Typed SQL on the entities' tables, in `em`'s transaction when it has one. */
const kysely = (em: EntityManager) => em.getKysely<Database>();

/** How long a claim holds: several times the mailer's SMTP timeouts (mailer.ts), so no send outlives it. */
const LEASE_MS = 5 * 60_000;

export class DeliveryInProgressError extends Error {
  override name = 'DeliveryInProgressError';
}

export interface Delivery {
  /** The business event: `order:<id>:paid`, or `job:<id>` for one-off messages. */
  key: string;
  /** The template, for the record. */
  kind: string;
  jobId?: string;
  /** Builds the message once the delivery is ours; null means there is nothing to send after all. */
  compose: () => Promise<Message | null>;
  /** Waits before each further attempt to record a send, milliseconds. Default: about half a minute in all. */
  stampRetryDelaysMs?: readonly number[];
}

export type DeliveryResult =
  | ({ status: 'sent' } & SentMessage)
  | { status: 'already_sent' }
  | { status: 'nothing_to_send' };

export function messageIdFor(key: string): string {
  return `<${createHash('sha256').update(key).digest('hex').slice(0, 40)}@keelson>`;
}

export async function sendOnce(em: EntityManager, mailer: Mailer, delivery: Delivery): Promise<DeliveryResult> {
  const db = kysely(em);
  const { key } = delivery;
  const { rows: claimed } = await sql<{ key: string }>`
    insert into email_delivery (key, kind, job_id, attempts, claimed_until, created_at)
    values (${key}, ${delivery.kind}, ${delivery.jobId ?? null}, 1, now() + ${LEASE_MS} * interval '1 millisecond', now())
    on conflict (key) do update
      set attempts = email_delivery.attempts + 1, claimed_until = excluded.claimed_until, job_id = excluded.job_id
      where email_delivery.sent_at is null
        and (email_delivery.claimed_until is null or email_delivery.claimed_until < now()
             or (email_delivery.job_id = excluded.job_id and email_delivery.message_id is null))
    returning key`.execute(db);
  if (!claimed.length) {
    const row = await db
      .selectFrom('email_delivery')
      .select(sql<boolean>`sent_at is not null`.as('sent'))
      .where('key', '=', key)
      .executeTakeFirst();
    if (row?.sent) return { status: 'already_sent' };
    throw new DeliveryInProgressError(`Email ${delivery.key} is being sent by another job; retrying later`);
  }
  let sent: SentMessage;
  try {
    const message = await delivery.compose();
    if (!message) {
      await db.deleteFrom('email_delivery').where('key', '=', key).execute();
      return { status: 'nothing_to_send' };
    }
    // Recorded before sending: from here on the message may be out, and no retry may take the claim back
    // before the lease lapses (a failing stamp below could not tell it so).
    const messageId = messageIdFor(delivery.key);
    await db.updateTable('email_delivery').set({ message_id: messageId }).where('key', '=', key).execute();
    sent = await mailer.send({ ...message, messageId });
  } catch (err) {
    // Not sent (the mail server or the record before it refused): let the retry claim it at once.
    await db
      .updateTable('email_delivery')
      .set({ claimed_until: null, message_id: null })
      .where('key', '=', key)
      .where('sent_at', 'is', null)
      .execute();
    throw err;
  }
  await stampSent(em, { key, messageId: sent.messageId, delays: delivery.stampRetryDelaysMs });
  return { status: 'sent', ...sent };
}

const STAMP_RETRY_DELAYS_MS = [100, 500, 1_000, 2_000, 5_000, 10_000, 15_000];

/**
 * Records a send. The message is out, so this must not give up easily: its connection may just have
 * been lost (a failover), and a release of the claim would let the job's retry send it again. It is
 * retried on fresh connections; should every attempt fail, the claim is kept, so a retry within the
 * lease finds the delivery in progress rather than sending.
 */
async function stampSent(
  em: EntityManager,
  { key, messageId, delays = STAMP_RETRY_DELAYS_MS }: { key: string; messageId: string; delays?: readonly number[] },
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await kysely(em)
        .updateTable('email_delivery')
        .set({ sent_at: sql`now()`, message_id: messageId, claimed_until: null })
        .where('key', '=', key)
        .execute();
      return;
    } catch (err) {
      const delay = delays[attempt];
      if (delay === undefined) throw err;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** For logs: what happened, and where the message went (its .eml file in development). */
export function describeDelivery(result: DeliveryResult): string {
  return result.status === 'sent' ? `sent (${result.file ?? result.messageId})` : result.status.replaceAll('_', ' ');
}
