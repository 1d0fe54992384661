import { claimAll, type ThrottleRule } from '@keelson/auth';
import { AppError } from '@keelson/errors';
import { sql, useTestOrm } from '@keelson/testing';
import { describe, expect, it } from 'vitest';

const HOUR = 3_600_000;

describe('claimAll', () => {
  const t = useTestOrm({ poolMax: 8 });
  const em = () => t.orm.em.fork();
  let n = 0;
  /** Rules of their own for every test, so tests share no rows. */
  const rule = (max: number, windowMs = HOUR): ThrottleRule => ({ bucket: `test:${++n}`, max, windowMs });
  const rows = async (...rules: ThrottleRule[]) =>
    Object.fromEntries(
      (
        await sql<{ bucket: string; hits: number }>(
          t.db.url,
          'select bucket, hits from auth_throttle where bucket = any($1)',
          [rules.map((r) => r.bucket)],
        )
      ).map((r) => [r.bucket, r.hits]),
    );
  const outcome = (p: Promise<void>) =>
    p.then(
      () => 'ok',
      (err: unknown) => (err instanceof AppError && err.code === 'RATE_LIMITED' ? 'refused' : err),
    );

  it('charges every rule or none: an attempt one rule refuses costs the others nothing', async () => {
    const strict = rule(2);
    const loose = rule(100);
    const now = new Date();
    const attempt = () =>
      outcome(
        claimAll(em(), [
          { rule: strict, key: 'k', now },
          { rule: loose, key: 'k', now },
        ]),
      );
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await attempt());
    expect(results).toEqual(['ok', 'ok', 'refused', 'refused', 'refused', 'refused']);
    expect(await rows(strict, loose)).toEqual({ [strict.bucket]: 2, [loose.bucket]: 2 });
  });

  it('leaves no row behind for a refused attempt, and says when the last of its blocks ends', async () => {
    const short = rule(1, 10 * 60_000);
    const long = rule(1, HOUR);
    const fresh = rule(10);
    const now = new Date();
    await claimAll(em(), [{ rule: short, key: 'k', now }]);
    await claimAll(em(), [{ rule: long, key: 'k', now }]);
    const err = await claimAll(em(), [
      { rule: fresh, key: 'k', now },
      { rule: short, key: 'k', now },
      { rule: long, key: 'k', now },
    ]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'RATE_LIMITED', details: { retryAfterSeconds: 3600 } });
    expect(await rows(short, long, fresh)).toEqual({ [short.bucket]: 1, [long.bucket]: 1 });
  });

  it('lets no burst of concurrent claims past a limit: the result of some serial run', async () => {
    const strict = rule(5);
    const loose = rule(100);
    const now = new Date();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        outcome(
          claimAll(
            em(),
            // Listed in either order: the rows are locked in one order whatever the caller's.
            i % 2
              ? [
                  { rule: strict, key: 'k', now },
                  { rule: loose, key: 'k', now },
                ]
              : [
                  { rule: loose, key: 'k', now },
                  { rule: strict, key: 'k', now },
                ],
          ),
        ),
      ),
    );
    expect(results.filter((r) => r === 'ok')).toHaveLength(5);
    expect(results.filter((r) => r === 'refused')).toHaveLength(35);
    expect(await rows(strict, loose)).toEqual({ [strict.bucket]: 5, [loose.bucket]: 5 });
  });

  it('never deadlocks, whatever rules concurrent claims share', async () => {
    const shared = [rule(1000), rule(1000), rule(1000), rule(1000)];
    const now = new Date();
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => {
        // Overlapping sets of rules, listed forwards or backwards.
        const picked = shared.filter((_, j) => (i >> j) & 1 || j === i % 4);
        if (i % 3) picked.reverse();
        return outcome(
          claimAll(
            em(),
            picked.map((r) => ({ rule: r, key: 'k', now })),
          ),
        );
      }),
    );
    expect(results.every((r) => r === 'ok')).toBe(true);
    const counted = await rows(...shared);
    const expected = shared.map(
      (_, j) => Array.from({ length: 60 }, (_, i) => i).filter((i) => (i >> j) & 1 || j === i % 4).length,
    );
    expect(shared.map((r) => counted[r.bucket])).toEqual(expected);
  });

  it('refuses a claim that names one row twice (a bug in the caller)', async () => {
    const r = rule(5);
    const now = new Date();
    await expect(
      claimAll(em(), [
        { rule: r, key: 'k', now },
        { rule: r, key: 'k', now },
      ]),
    ).rejects.toThrow(/claimed twice/);
    expect(await rows(r)).toEqual({});
  });
});
