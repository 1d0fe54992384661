import { type EntityManager, IsolationLevel } from '@mikro-orm/core';

/**
 * Runs `read` in one REPEATABLE READ, READ ONLY transaction, so that all of its statements see one
 * snapshot: under the default READ COMMITTED each statement takes its own, and a commit landing between
 * two of them (a page and its count, totals and a funnel) shows half of that commit. Inside a caller's
 * transaction it simply runs there: that transaction already decides what its statements see.
 *
 * A single statement needs none of this (it always reads one snapshot), and is the cheaper fix where
 * the rows fit in one: this costs a BEGIN and a COMMIT.
 */
export function readSnapshot<T, E extends EntityManager = EntityManager>(
  em: E,
  read: (tx: E) => Promise<T>,
): Promise<T> {
  if (em.isInTransaction()) return read(em);
  return em.transactional((tx) => read(tx as E), { isolationLevel: IsolationLevel.REPEATABLE_READ, readOnly: true });
}
