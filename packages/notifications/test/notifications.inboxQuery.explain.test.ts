/**
 * "My inbox, newest first" and "my unread count" are index range scans of the caller's rows, at any
 * page depth: no sequential scan of `notification`, and no sort (but see the deep unread-only page). 60,000 notifications of 300 users (a
 * fifth unread) are analysed first, so the planner works from real statistics; `enable_seqscan = off`
 * only removes the heap-scan option, it cannot invent an index that does not serve the query.
 */
import type { Database } from '@keelson/db';
import { inboxQuery, unreadCountQuery } from '@keelson/notifications';
import { createUsers, sql as rawSql, useTestOrm } from '@keelson/testing';
import { type Kysely, sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)];

describe('inbox query plans', () => {
  const t = useTestOrm();
  let userId: string;
  let cursor: string;

  beforeAll(async () => {
    const users = await createUsers(t.db.url, 300);
    userId = users[0]!.id;
    await rawSql(
      t.db.url,
      `insert into notification (id, user_id, kind, title, body, data, event_key, created_at, read_at)
       select gen_random_uuid(), u.id, 'order_paid', 'Paid', 'Paid.', '{}', u.id || ':' || n,
         now() - n * interval '1 minute', case when n % 5 = 0 then null else now() end
       from unnest($1::uuid[]) as u(id) cross join generate_series(1, 200) as n`,
      [users.map((u) => u.id)],
    );
    await rawSql(t.db.url, 'analyze notification');
    // A cursor deep in the user's inbox.
    const [row] = await rawSql<{ id: string }>(
      t.db.url,
      'select id from notification where user_id = $1 order by id desc offset 150 limit 1',
      [userId],
    );
    cursor = row!.id;
  });

  /** The plan of the query `build` makes on a transaction's Kysely, with heap scans off. */
  async function plan(build: (db: Kysely<Database>) => { explain(format: 'json'): Promise<unknown[]> }) {
    return t.orm.em.fork().transactional(async (tx) => {
      const db = tx.getKysely<Database>();
      await sql`set local enable_seqscan = off`.execute(db);
      const [row] = (await build(db).explain('json')) as { 'QUERY PLAN': [{ Plan: PlanNode }] }[];
      return nodes(row!['QUERY PLAN'][0].Plan);
    });
  }

  // Past a deep cursor few unread rows are left: fetching those few by the partial index (a bitmap
  // scan) and sorting them is the planner's cheaper choice, and a fine one. Everywhere else no sort.
  it.each<[string, string, { limit: number; unreadOnly: boolean; deep?: boolean; maySort?: boolean }]>([
    ['first page', 'notification_user_id_idx', { limit: 20, unreadOnly: false }],
    ['a deep page', 'notification_user_id_idx', { limit: 20, unreadOnly: false, deep: true }],
    ['unread only', 'notification_unread_idx', { limit: 20, unreadOnly: true }],
    ['unread only, a deep page', 'notification_unread_idx', { limit: 20, unreadOnly: true, deep: true, maySort: true }],
  ])('%s: %s', async (_name, index, input) => {
    const steps = await plan((db) =>
      inboxQuery(db, userId, { limit: input.limit, unreadOnly: input.unreadOnly, ...(input.deep ? { cursor } : {}) }),
    );
    const types = steps.map((s) => s['Node Type']);
    expect(types).not.toContain('Seq Scan');
    if (!input.maySort) expect(types).not.toContain('Sort');
    expect(steps.map((s) => s['Index Name']).filter(Boolean)).toEqual([index]);
  });

  it('counts unread from the partial index', async () => {
    const steps = await plan((db) => unreadCountQuery(db, userId));
    expect(steps.map((s) => s['Node Type'])).not.toContain('Seq Scan');
    expect(steps.map((s) => s['Index Name']).filter(Boolean)).toEqual(['notification_unread_idx']);
  });
});
