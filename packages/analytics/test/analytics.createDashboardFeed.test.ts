/**
 * The dashboard ticker against a real database: one read per tick for any number of subscribers, the
 * latest snapshot for a newcomer at once, never two reads at a time, no reads once everyone has left.
 */
import { createDashboardFeed, type DashboardSnapshot, readDashboardSnapshot } from '@keelson/analytics';
import { eventually, useTestOrm } from '@keelson/testing';
import { describe, expect, it } from 'vitest';

/** `readDashboardSnapshot`, counted, with the most reads ever in flight at once. */
function countedRead(orm: ReturnType<typeof useTestOrm>['orm'], opts: { pauseMs?: number; failOnce?: boolean } = {}) {
  const stats = { calls: 0, inFlight: 0, maxInFlight: 0, results: [] as DashboardSnapshot[] };
  let failed = false;
  const read = async () => {
    stats.calls++;
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    try {
      const snapshot = await readDashboardSnapshot(orm.em.fork());
      // Long enough that a timer not waiting for the previous read would start another meanwhile.
      if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
      if (opts.failOnce && !failed) {
        failed = true;
        throw new Error('database unavailable');
      }
      stats.results.push(snapshot);
      return snapshot;
    } finally {
      stats.inFlight--;
    }
  };
  return { read, stats };
}

/** Takes snapshots from a subscription in the background until `stop()`. */
function consume(feed: ReturnType<typeof createDashboardFeed>) {
  const ac = new AbortController();
  const got: DashboardSnapshot[] = [];
  const done = (async () => {
    for await (const s of feed.subscribe(ac.signal)) got.push(s);
  })();
  return {
    got,
    done,
    stop: async () => {
      ac.abort();
      await done;
    },
  };
}

describe('createDashboardFeed', () => {
  const t = useTestOrm();

  it('serves 20 subscribers from one read, and a newcomer the latest snapshot at once', async () => {
    const { read, stats } = countedRead(t.orm);
    // No second tick during this test: every snapshot seen must come from the first read.
    const feed = createDashboardFeed({ read, intervalMs: 10 * 60_000 });
    try {
      expect(feed.active).toBe(false);
      const subs = Array.from({ length: 20 }, () => consume(feed));
      await eventually(async () => subs.every((s) => s.got.length === 1));
      expect(stats.calls).toBe(1);
      expect(feed.reads).toBe(1);
      const [first] = stats.results;
      for (const s of subs) expect(s.got[0]).toBe(first);

      const late = consume(feed);
      await eventually(async () => late.got.length === 1);
      expect(late.got[0]).toBe(first);
      expect(stats.calls).toBe(1);
      expect(feed.subscriberCount).toBe(21);

      await Promise.all([...subs, late].map((s) => s.stop()));
      expect(feed.subscriberCount).toBe(0);
      expect(feed.active).toBe(false);
    } finally {
      await feed.close();
    }
  });

  it('ticks one read at a time for everyone, survives a failed read, and stops when the last one leaves', async () => {
    const { read, stats } = countedRead(t.orm, { pauseMs: 40, failOnce: true });
    const warnings: unknown[] = [];
    const feed = createDashboardFeed({ read, intervalMs: 10, logger: { warn: (obj) => warnings.push(obj) } });
    try {
      const subs = Array.from({ length: 20 }, () => consume(feed));
      await eventually(async () => subs.every((s) => s.got.length >= 4), 20_000);
      // The first read failed and was logged; the feed went on.
      expect(warnings).toHaveLength(1);
      expect(stats.maxInFlight).toBe(1);
      // Every snapshot anyone got is one of the reads' results: 20 watchers cost one read per tick.
      const delivered = new Set(subs.flatMap((s) => s.got));
      for (const s of delivered) expect(stats.results).toContain(s);
      // Reads are the delivered snapshots, plus the failed one, plus at most one in flight or undelivered.
      expect(stats.calls).toBeLessThanOrEqual(delivered.size + 2);
      expect(stats.calls).toBe(feed.reads);

      await Promise.all(subs.map((s) => s.stop()));
      expect(feed.subscriberCount).toBe(0);
      // A read in flight when the last one left settles and schedules nothing.
      await eventually(async () => !feed.active);
      const reads = feed.reads;
      // Ten intervals and more: a timer left behind would have read again.
      await new Promise((r) => setTimeout(r, 300));
      expect(feed.reads).toBe(reads);
      expect(feed.active).toBe(false);

      // Coming back after everyone left: a fresh read, never the old snapshot.
      const again = consume(feed);
      await eventually(async () => again.got.length === 1);
      // At least one read (the next tick may already have read again before this line runs, on a busy
      // machine), and what arrived first is new.
      expect(feed.reads).toBeGreaterThan(reads);
      expect(delivered.has(again.got[0]!)).toBe(false);
      await again.stop();
    } finally {
      await feed.close();
    }
  });

  it('ends its subscriptions on close', async () => {
    const { read } = countedRead(t.orm);
    const feed = createDashboardFeed({ read, intervalMs: 10 * 60_000 });
    const sub = consume(feed);
    await eventually(async () => sub.got.length === 1);
    await feed.close();
    // Ends without an abort: the generator saw the feed close.
    await sub.done;
    expect(feed.subscriberCount).toBe(0);
    expect(feed.active).toBe(false);
  });
});
