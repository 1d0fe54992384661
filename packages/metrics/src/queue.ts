/**
 * The job-queue gauges, read from graphile-worker's tables at scrape time. The worker and every API
 * process report them: a queue whose worker is dead (or never started) must show as a growing queue,
 * which only a process other than the worker can say. Each process reads with one query at a time
 * however many scrapers ask, and reuses the answer for `cacheMs`.
 */
import { Gauge, type Registry, type RegistryContentType } from 'prom-client';

/** One task's jobs, as `readQueueStats` of @keelson/jobs reads them. */
export interface QueueStats {
  task: string;
  queued: number;
  /** Seconds since the oldest queued job became due; 0 when none is queued. */
  oldestQueuedAgeSeconds: number;
  locked: number;
  failedPermanently: number;
}

export interface QueueGaugeOptions {
  /** Reads the queue, one row per task with jobs (`readQueueStats` of @keelson/jobs). */
  query: () => Promise<QueueStats[]>;
  /** Task identifiers reported as 0 when they have no job, so their series never vanish. */
  knownTasks: readonly string[];
  /** How long one queue query answers scrapes, so frequent scrapes don't load the database. Default 5 s. */
  cacheMs?: number;
  /** Told when the queue query fails; the queue gauges are then left out of that scrape. */
  onError?: (err: unknown) => void;
  /**
   * How long a scrape waits for the read, milliseconds (default 2 s): a database that holds the query
   * (a frozen primary, a huge backlog) must not hold the whole scrape past Prometheus' timeout, or every
   * target would look down. The scrape then reports the database unreachable; the read goes on, shared
   * by the scrapes that follow, so no second one piles up behind it.
   */
  timeoutMs?: number;
  /** Default `Date.now`. */
  now?: () => number;
}

export function queueGauges(registers: Registry<RegistryContentType>[], opts: QueueGaugeOptions): void {
  const now = opts.now ?? Date.now;
  const cacheMs = opts.cacheMs ?? 5_000;
  let cached: { at: number; rows: Promise<QueueStats[] | null>; settled: boolean } | null = null;
  const queueStats = (): Promise<QueueStats[] | null> => {
    // A read still running is shared whatever its age: the five gauges of a scrape, and every scrape
    // while the database is slow to answer, wait for the same query instead of queueing more.
    if (cached && (!cached.settled || now() - cached.at < cacheMs)) return cached.rows;
    const entry = {
      at: now(),
      settled: false,
      rows: opts.query().then(
        (stats) => stats,
        (err: unknown) => {
          opts.onError?.(err);
          return null;
        },
      ),
    };
    void entry.rows.finally(() => (entry.settled = true));
    cached = entry;
    return entry.rows;
  };
  const timeoutMs = opts.timeoutMs ?? 2_000;
  // One scrape's view of the read: the rows, or null once it has waited timeoutMs.
  const forScrape = (): Promise<QueueStats[] | null> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    return Promise.race([queueStats(), late]).finally(() => clearTimeout(timer));
  };
  const queueGauge = (name: string, help: string, value: (s: QueueStats) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['task'] as const,
      registers,
      async collect() {
        const stats = await forScrape();
        this.reset();
        if (!stats) return;
        for (const task of opts.knownTasks) this.set({ task }, 0);
        for (const s of stats) this.set({ task: s.task }, value(s));
      },
    });
  queueGauge(
    'keelson_jobs_queued',
    'Jobs due and waiting for a worker (not locked, attempts left), by task',
    (s) => s.queued,
  );
  queueGauge(
    'keelson_jobs_oldest_queued_age_seconds',
    'Seconds since the longest-waiting queued job became due (0 when none waits), by task',
    (s) => s.oldestQueuedAgeSeconds,
  );
  queueGauge(
    'keelson_jobs_locked',
    'Jobs locked by a worker (running, or held by a dead one until swept), by task',
    (s) => s.locked,
  );
  queueGauge(
    'keelson_jobs_failed_permanently',
    'Jobs whose attempts are exhausted and that wait for an admin, by task',
    (s) => s.failedPermanently,
  );
  new Gauge({
    name: 'keelson_db_reachable',
    help: "1 when this process's scrape-time read of the job queue succeeded, 0 when the database did not answer it",
    registers,
    async collect() {
      this.set((await forScrape()) ? 1 : 0);
    },
  });
}
