/**
 * The realtime outbox. `publishEvents` inserts events in the caller's transaction and NOTIFYs their ids
 * on `keelson_events`; PostgreSQL delivers the NOTIFY only when that transaction commits, so listeners
 * never hear of an event that rolled back. The NOTIFY is only a wake-up call: a listening process
 * reads the rows themselves (`readEventsAfter`), so a missed NOTIFY costs latency, never an event.
 */
import type { EntityManager } from '@mikro-orm/postgresql';

/** The channel every API process LISTENs on; the payload is the largest new event id. */
export const EVENTS_CHANNEL = 'keelson_events';

export const eventTopics = ['order', 'stock', 'notification'] as const;
export type EventTopic = (typeof eventTopics)[number];

export interface PublishedEvent {
  topic: EventTopic;
  /** The only user who may see it; null (the default) for public events. */
  userId?: string | null;
  payload: Record<string, unknown>;
}

export interface StoredEvent {
  id: number;
  topic: EventTopic;
  userId: string | null;
  payload: Record<string, unknown>;
  createdAt: Date;
}

/** Serialises event writers from their INSERT to their commit (see `publishEvents`). */
const EVENTS_LOCK = 7_463_001;

/**
 * Records events in the caller's transaction: one INSERT for all of them, plus one NOTIFY carrying the
 * largest id (a listener reads everything after the last id it saw, so one wake-up covers the batch).
 *
 * A transaction-scoped advisory lock, taken by the same statement, makes ids commit in order: without
 * it a transaction holding id 10 could commit after one holding id 11, and a reader that already moved
 * its cursor to 11 would skip 10 for good. The lock is held until commit, so callers publish last.
 */
export async function publishEvents(tx: EntityManager, events: readonly PublishedEvent[]): Promise<void> {
  if (!events.length) return;
  if (!tx.isInTransaction()) throw new Error('publishEvents() must run inside a transaction');
  const rows = events.map((e) => ({ topic: e.topic, user_id: e.userId ?? null, payload: e.payload }));
  // Rows travel as one JSON parameter (MikroORM would expand an array into a list of placeholders);
  // `with ordinality` keeps the ids in the order the events were given.
  await tx.getConnection().execute(
    `with inserted as (
       insert into app_event (topic, user_id, payload, created_at)
       select e.value ->> 'topic', (e.value ->> 'user_id')::uuid, e.value -> 'payload', now()
       from (select pg_advisory_xact_lock(?)) as lock,
         jsonb_array_elements(?::jsonb) with ordinality as e(value, n)
       order by e.n
       returning id
     )
     select pg_notify(?, max(id)::text) from inserted`,
    [EVENTS_LOCK, JSON.stringify(rows), EVENTS_CHANNEL],
    'all',
    tx.getTransactionContext(),
  );
}

export function publishEvent(tx: EntityManager, event: PublishedEvent): Promise<void> {
  return publishEvents(tx, [event]);
}

/**
 * Events after `afterId`, oldest first, at most `limit`. With `userId`, only public events and that
 * user's; with `userId: undefined` (a process's fan-out read) all of them.
 */
export async function readEventsAfter(
  em: EntityManager,
  opts: { afterId: number; limit: number; topics?: readonly EventTopic[]; userId?: string | null },
): Promise<StoredEvent[]> {
  const where = ['id > ?'];
  const params: unknown[] = [opts.afterId];
  if (opts.topics) {
    where.push('topic in (select jsonb_array_elements_text(?::jsonb))');
    params.push(JSON.stringify(opts.topics));
  }
  if (opts.userId !== undefined) {
    where.push(opts.userId === null ? 'user_id is null' : '(user_id is null or user_id = ?)');
    if (opts.userId !== null) params.push(opts.userId);
  }
  params.push(opts.limit);
  const rows = await em
    .getConnection()
    .execute<{ id: string | number; topic: EventTopic; user_id: string | null; payload: unknown; created_at: Date }[]>(
      `select id, topic, user_id, payload, created_at from app_event where ${where.join(' and ')} order by id limit ?`,
      params,
      'all',
      em.getTransactionContext(),
    );
  return rows.map((r) => ({
    id: Number(r.id),
    topic: r.topic,
    userId: r.user_id,
    payload: (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as Record<string, unknown>,
    createdAt: r.created_at instanceof Date ? r.created_at : new Date(String(r.created_at)),
  }));
}
