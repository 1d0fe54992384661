/**
 * `pnpm bench:worker [--write]`: job throughput of Keelson's worker against raw graphile-worker running
 * the same job with the same settings, at graphile-worker's defaults and batched (completion and failure
 * of jobs in batches: WORKER_COMPLETE_BATCH_DELAY_MS, WORKER_FAIL_BATCH_DELAY_MS). graphile-worker's
 * local queue is not measured: Keelson does not offer it (see apps/worker/src/worker.ts).
 *
 * The job is `catalog__refresh_view_count` (one UPDATE of a product's view count from its views), the
 * cheapest task of the contracts; raw graphile-worker runs that same statement from a task of its own,
 * so the gap is what Keelson adds per job: payload validation against the contract, a span (no SDK
 * here: the no-op API), the job's logger, metrics, the heartbeat. Jobs cycle over the seeded products, so
 * runners rarely wait on one another's row lock. Each variant runs in this process, one after another,
 * in interleaved rounds; CPU is this process's (the worker side; PostgreSQL runs apart).
 */
import { appendFileSync } from 'node:fs';
import { loadConfig } from '@keelson/config';
import { createOrm } from '@keelson/db';
import { createWorker } from '@keelson/worker';
import { workerMetrics } from '@keelson/worker/metrics';
import { run } from 'graphile-worker';
import pg from 'pg';
import pino from 'pino';
import { openDatabase, query } from './database.ts';
import { cpuModel, median, revision, table } from './report.ts';

const DOC = new URL('../../../docs/benchmarks.md', import.meta.url);
const log = (line: string) => process.stderr.write(`[bench:worker] ${line}\n`);

// biome-ignore lint/style/noProcessEnv: the harness's own knobs; it is no app, so it has no Config for them.
const { BENCH_JOBS = '20000', BENCH_ROUNDS = '3', BENCH_CONCURRENCY = '10', DATABASE_URL } = process.env;
const jobs = Number(BENCH_JOBS);
const rounds = Number(BENCH_ROUNDS);
const concurrency = Number(BENCH_CONCURRENCY);
const write = process.argv.includes('--write');
if (!(jobs >= 1000)) throw new Error('BENCH_JOBS must be at least 1000');
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('BENCH_ROUNDS must be a positive integer');

const TASK = 'catalog__refresh_view_count';
/** The batched settings, the same for both workers. */
const BATCHED = { completeBatchDelayMs: 10, failBatchDelayMs: 10 };
/** What Keelson's task runs (refreshViewCount in @keelson/catalog), for the raw worker's own task. */
const REFRESH_SQL = `update "product" set "view_count" = (select count(*) as "n" from "analytics_event"
  where "product_id" = $1 and "name" = 'product_viewed') where "id" = $1 returning "view_count"`;

type Worker = 'keelson' | 'raw';
type Settings = 'defaults' | 'batched';
interface Round {
  worker: Worker;
  settings: Settings;
  jobsPerSec: number;
  cpuUsPerJob: number;
}

/** Queues `count` jobs cycling over the products, in one statement. */
async function enqueue(url: string, productIds: string[], count: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      `select graphile_worker.add_job($1, json_build_object('productId', ($2::text[])[1 + (i % array_length($2::text[], 1))]))
       from generate_series(1, $3) as i`,
      [TASK, productIds, count],
    );
  } finally {
    await client.end();
  }
}

async function remaining(url: string): Promise<number> {
  const [row] = await query<{ n: string }>(url, 'select count(*)::text as n from graphile_worker._private_jobs');
  return Number(row?.n ?? 0);
}

/** Starts a worker on the queued jobs, waits until none is left, stops it; jobs/s and CPU µs per job. */
async function drain(url: string, worker: Worker, settings: Settings): Promise<Omit<Round, 'worker' | 'settings'>> {
  const batched = settings === 'batched';
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let stop: () => Promise<void>;
  if (worker === 'raw') {
    const pgPool = new pg.Pool({ connectionString: url, max: concurrency + 2 });
    const runner = await run({
      pgPool,
      concurrency,
      noHandleSignals: true,
      logger: undefined,
      taskList: {
        [TASK]: async (payload, helpers) => {
          await helpers.query(REFRESH_SQL, [(payload as { productId: string }).productId]);
        },
      },
      preset: {
        worker: {
          completeJobBatchDelay: batched ? BATCHED.completeBatchDelayMs : -1,
          failJobBatchDelay: batched ? BATCHED.failBatchDelayMs : -1,
        },
      },
    });
    stop = async () => {
      await runner.stop();
      await pgPool.end();
    };
  } else {
    const config = loadConfig({
      NODE_ENV: 'production',
      DATABASE_URL: url,
      LOG_LEVEL: 'silent',
      WORKER_CONCURRENCY: String(concurrency),
      ...(batched
        ? {
            WORKER_COMPLETE_BATCH_DELAY_MS: String(BATCHED.completeBatchDelayMs),
            WORKER_FAIL_BATCH_DELAY_MS: String(BATCHED.failBatchDelayMs),
          }
        : {}),
    });
    const logger = pino({ level: 'silent' });
    const orm = await createOrm({ url, poolMax: config.database.poolMax });
    const keelson = createWorker({
      config: { ...config, worker: { ...config.worker, tasks: [TASK] } },
      orm,
      logger,
      databaseUrl: url,
      metrics: workerMetrics({ orm, logger }),
    });
    await keelson.start();
    stop = async () => {
      await keelson.stop();
      await orm.close(true);
    };
  }
  while ((await remaining(url)) > 0) await new Promise((r) => setTimeout(r, 20));
  const seconds = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpu0);
  await stop();
  return { jobsPerSec: jobs / seconds, cpuUsPerJob: (used.user + used.system) / jobs };
}

async function main() {
  await using cleanup = new AsyncDisposableStack();
  const db = await openDatabase(DATABASE_URL, cleanup, log);
  const variants: [Worker, Settings][] = [
    ['raw', 'defaults'],
    ['keelson', 'defaults'],
    ['raw', 'batched'],
    ['keelson', 'batched'],
  ];
  const results: Round[] = [];
  // A warm-up round per variant (JIT, connections, plans), then rounds that alternate the variants.
  for (let round = 0; round <= rounds; round++) {
    for (const [worker, settings] of variants) {
      await enqueue(db.url, db.productIds, jobs);
      const r = await drain(db.url, worker, settings);
      const tag = round === 0 ? 'warm-up' : `round ${round}`;
      log(`${tag} ${worker} ${settings}: ${Math.round(r.jobsPerSec)} jobs/s, ${Math.round(r.cpuUsPerJob)} µs CPU/job`);
      if (round > 0) results.push({ worker, settings, ...r });
    }
  }
  const of = (worker: Worker, settings: Settings, pick: (r: Round) => number) =>
    median(results.filter((r) => r.worker === worker && r.settings === settings).map(pick));
  const rows = variants.map(([worker, settings]) => [
    worker === 'raw' ? 'raw graphile-worker' : 'Keelson',
    settings === 'batched' ? `completion batched (${BATCHED.completeBatchDelayMs} ms)` : 'defaults',
    Math.round(of(worker, settings, (r) => r.jobsPerSec)).toLocaleString('en-US'),
    String(Math.round(of(worker, settings, (r) => r.cpuUsPerJob))),
  ]);
  const ratio = (settings: Settings) =>
    (of('keelson', settings, (r) => r.jobsPerSec) / of('raw', settings, (r) => r.jobsPerSec)).toFixed(2);
  const gain = (worker: Worker) =>
    (of(worker, 'batched', (r) => r.jobsPerSec) / of(worker, 'defaults', (r) => r.jobsPerSec)).toFixed(1);
  const section = [
    `## worker · ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC · ${revision()}`,
    '',
    `${cpuModel()} · Node ${process.version} · ${db.server} · concurrency ${concurrency} · ${rounds} rounds of ${jobs.toLocaleString('en-US')} \`${TASK}\` jobs per variant after a warm-up round, variants interleaved`,
    '',
    ...table(['worker', 'settings', 'jobs/s', 'CPU µs/job'], [false, false, true, true], rows),
    '',
    `**Keelson / raw graphile-worker jobs/s: defaults ${ratio('defaults')}, batched ${ratio('batched')}**; batched / defaults: Keelson ${gain('keelson')}×, raw ${gain('raw')}× (medians over the rounds).`,
    '',
  ].join('\n');
  console.log(`\n${section}`);
  if (write) {
    appendFileSync(DOC, `\n${section}`);
    log('appended to docs/benchmarks.md');
  }
}

try {
  await main();
} catch (err) {
  console.error(err);
  process.exitCode = 1;
}
