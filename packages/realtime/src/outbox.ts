/**
 * The realtime outbox. `publishEvents` inserts events in the caller's transaction, unnumbered, and
 * NOTIFYs `keelson_events_pending`; PostgreSQL delivers a NOTIFY only when its transaction commits, so
 * nobody hears of an event that rolled back. A listening process then runs `sequenceEvents`, which
 * numbers every committed unnumbered row (`position`) and NOTIFYs `keelson_events`; listeners read the
 * numbered rows themselves (`readEventsAfter`). NOTIFYs are only wake-up calls: a missed one costs
 * latency, never an event (every (re)connection sequences and reads again).
 *
 * Glossary: *id* — insertion order, taken before commit, so ids commit out of order; *position* — the
 * order of the log, assigned after commit, gapless, and visible in order: when a reader sees position
 * P, every position below P is already visible. Cursors (`tracked` ids, `lastEventId`) are positions.
 */
import { type Database, rowDate } from '@keelson/db';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';

/** Typed SQL on the entities' tables, in `em`'s transaction when it has one. */
const kysely = (em: EntityManager) => em.getKysely<Database>();

/** The channel every API process LISTENs on for sequenced events; the payload is the largest new position. */
export const EVENTS_CHANNEL = 'keelson_events';

/** Writers' wake-up for the sequencer: committed events are waiting for a position. No payload. */
export const EVENTS_PENDING_CHANNEL = 'keelson_events_pending';

export const eventTopics = ['order', 'stock', 'notification', 'chat'] as const;
export type EventTopic = (typeof eventTopics)[number];

export interface PublishedEvent {
  topic: EventTopic;
  /** The only user who may see it; null (the default) for public events. */
  userId?: string | null;
  payload: Record<string, unknown>;
}

export interface StoredEvent {
  /** The event's position in the log: what clients see as its id and resume from. */
  id: number;
  topic: EventTopic;
  userId: string | null;
  payload: Record<string, unknown>;
  createdAt: Date;
}

/**
 * A resume cursor the log cannot continue from: older than what pruning removed (`pruned`: the events
 * right after it are gone), or past the log's head (`ahead`: an id this database never issued, e.g.
 * after a restore from backup).
 */
export class EventsExpiredError extends Error {
  override name = 'EventsExpiredError';
  readonly cursor: number;
  readonly prunedThrough: number;
  readonly reason: 'pruned' | 'ahead';
  constructor(cursor: number, prunedThrough: number, reason: 'pruned' | 'ahead' = 'pruned') {
    super(
      reason === 'pruned'
        ? `Events after ${cursor} were pruned (through ${prunedThrough})`
        : `Event ${cursor} is past the end of the event log`,
    );
    this.cursor = cursor;
    this.prunedThrough = prunedThrough;
    this.reason = reason;
  }
}

/** Serialises sequencer runs, and nothing else (writers never take it). */
const SEQUENCER_LOCK = 7_463_002;

/** Rows one sequencer transaction numbers at most; a backlog takes several (short) transactions. */
const SEQUENCE_BATCH = 10_000;

/**
 * Records events in the caller's transaction: one INSERT for all of them, plus one wake-up NOTIFY. The
 * rows get their position after the commit, from `sequenceEvents`; no lock is taken here, so writers'
 * commits never wait for each other (the ordering lock this replaced serialised every event-writing
 * commit, and so checkout throughput).
 */
export async function publishEvents(tx: EntityManager, events: readonly PublishedEvent[]): Promise<void> {
  if (!events.length) return;
  if (!tx.isInTransaction()) throw new Error('publishEvents() must run inside a transaction');
  const rows = events.map((e) => ({ topic: e.topic, user_id: e.userId ?? null, payload: e.payload }));
  // `clock_timestamp()`, not `now()` (the transaction's start): the events are written last, so this is
  // within moments of the commit, even at the end of a long transaction (a report), which is what
  // clients see as `at` and what the fan-out delay metric measures from.
  // Rows travel as one JSON parameter (one statement and one plan whatever their number);
  // `with ordinality` keeps the ids, and so the positions, in the order the events were given. A
  // data-modifying WITH runs whether or not the outer query reads it.
  await sql`
    with inserted as (
      insert into app_event (topic, user_id, payload, created_at)
      select e.value ->> 'topic', (e.value ->> 'user_id')::uuid, e.value -> 'payload', clock_timestamp()
      from jsonb_array_elements(${JSON.stringify(rows)}::jsonb) with ordinality as e(value, n)
      order by e.n
    )
    select pg_notify(${EVENTS_PENDING_CHANNEL}, '')`.execute(kysely(tx));
}

export function publishEvent(tx: EntityManager, event: PublishedEvent): Promise<void> {
  return publishEvents(tx, [event]);
}

/**
 * Numbers every committed event that has no position yet, after the highest position, one transaction's
 * events together in the order given: by their transaction's first id, then id. (Ids alone would not
 * do: concurrent multi-row inserts interleave their `nextval`s. Rows written in one (sub)transaction
 * share `xmin`.) NOTIFYs `keelson_events` with the new highest position. Returns it, or null when there
 * was nothing to do.
 *
 * Why positions are visible in order: runs are serialised by a transaction-scoped advisory lock taken
 * by a statement of its own, so the numbering statement's snapshot (READ COMMITTED: one per statement)
 * is taken after the lock is held, and sees every position the previous run committed. Each run
 * commits before the next can start, so a reader that sees position P sees every lower one: a cursor
 * never skips an event, however late the writer's transaction commits (its row simply gets a later
 * position). Any process may run it at any time; concurrent runs just queue on the lock.
 *
 * Rejected alternative: ordering by `pg_current_xact_id()` and reading only below `pg_snapshot_xmin`
 * needs no sequencer, but then every event waits for the oldest transaction in the whole cluster,
 * and a sales report is one long transaction.
 */
export async function sequenceEvents(em: EntityManager): Promise<number | null> {
  let highest: number | null = null;
  for (;;) {
    const row = await em.fork().transactional(async (tx) => {
      const db = kysely(tx);
      await sql`select pg_advisory_xact_lock(${SEQUENCER_LOCK})`.execute(db);
      // The base includes pruning's mark: pruning may have removed every positioned row.
      const { rows } = await sql<{ position: string; count: string }>`
        with base as (
          select greatest(
            coalesce((select max(position) from app_event), 0),
            coalesce((select position from app_event_pruned where id = 1), 0)
          ) as p
        ), pending as (
          select id, row_number() over (order by first_id, id) as n
          from (
            select id, min(id) over (partition by xmin::text) as first_id
            from app_event where position is null
          ) unpositioned
          order by first_id, id limit ${SEQUENCE_BATCH}
        ), sequenced as (
          update app_event e set position = base.p + pending.n
          from pending, base where e.id = pending.id
          returning e.position
        )
        select pg_notify(${EVENTS_CHANNEL}, max(position)::text), max(position)::text as position,
               count(*)::text as count
        from sequenced having count(*) > 0`.execute(db);
      return rows[0];
    });
    if (!row) return highest;
    highest = Number(row.position);
    if (Number(row.count) < SEQUENCE_BATCH) return highest;
  }
}

/**
 * Events after position `afterId`, in position order, at most `limit`. With `userId`, only public
 * events and that user's; with `userId: undefined` (a process's fan-out read) all of them.
 */
export async function readEventsAfter(
  em: EntityManager,
  opts: { afterId: number; limit: number; topics?: readonly EventTopic[]; userId?: string | null },
): Promise<StoredEvent[]> {
  let query = kysely(em)
    .selectFrom('app_event')
    .select(['position', 'topic', 'user_id', 'payload', 'created_at'])
    .where('position', '>', opts.afterId);
  if (opts.topics) query = query.where('topic', 'in', [...opts.topics]);
  const { userId } = opts;
  if (userId === null) query = query.where('user_id', 'is', null);
  else if (userId !== undefined)
    query = query.where((w) => w.or([w('user_id', 'is', null), w('user_id', '=', userId)]));
  const rows = await query.orderBy('position').limit(opts.limit).execute();
  return rows.map((r) => ({
    id: Number(r.position),
    topic: r.topic as EventTopic,
    userId: r.user_id,
    payload: (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as Record<string, unknown>,
    createdAt: rowDate(em, r.created_at),
  }));
}

/**
 * Where the log starts and ends for a resuming cursor: the highest position pruning removed (0 before
 * any) and the highest position issued (the mark when pruning emptied the table). In one snapshot.
 */
export async function eventLogBounds(em: EntityManager): Promise<{ prunedThrough: number; head: number }> {
  const {
    rows: [row],
  } = await sql<{ pruned: string; head: string }>`
    select coalesce((select position from app_event_pruned where id = 1), 0)::text as pruned,
           greatest(coalesce((select max(position) from app_event), 0),
                    coalesce((select position from app_event_pruned where id = 1), 0))::text as head`.execute(
    kysely(em),
  );
  return { prunedThrough: Number(row?.pruned ?? 0), head: Number(row?.head ?? 0) };
}

/**
 * Deletes sequenced events created before `olderThan`, in batches of `batchSize` (default 5000), each
 * its own short statement (so no long lock or transaction, however large the backlog); returns how many
 * rows and statements it took. Only a prefix in position order goes (up to the first event still young),
 * so "everything at or below the mark is gone, everything above is here" stays true, and the mark
 * (`app_event_pruned`) is what tells a resuming client it came too late. Unsequenced rows are never
 * touched: they have no position yet, and a sequencer is about to give them one.
 */
export async function pruneEvents(
  em: EntityManager,
  opts: { olderThan: Date; batchSize?: number },
): Promise<{ deleted: number; batches: number; prunedThrough: number }> {
  const batchSize = opts.batchSize ?? 5_000;
  let deleted = 0;
  let batches = 0;
  for (;;) {
    batches++;
    const {
      rows: [row],
    } = await sql<{ deleted: number }>`
      with batch as (
        select position, created_at < ${opts.olderThan} as old from app_event
        where position is not null order by position limit ${batchSize}
      ), young as (
        select min(position) as p from batch where not old
      ), gone as (
        delete from app_event where position in (
          select b.position from batch b, young y where y.p is null or b.position < y.p
        )
        returning position
      ), mark as (
        insert into app_event_pruned (id, position)
        select 1, max(position) from gone having count(*) > 0
        on conflict (id) do update set position = greatest(app_event_pruned.position, excluded.position)
      )
      select count(*)::int as deleted from gone`.execute(kysely(em));
    const n = row?.deleted ?? 0;
    deleted += n;
    if (n < batchSize) break;
  }
  return { deleted, batches, prunedThrough: (await eventLogBounds(em)).prunedThrough };
}
