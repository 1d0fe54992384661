/**
 * `pnpm bench [--write]`: `catalog.get` through the whole stack against a bare node:http + pg baseline,
 * interleaved in one run. The method is described in docs/benchmarks.md (DOC_HEADER in report.ts).
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { type BenchDatabase, openDatabase } from './database.ts';
import {
  baselineDir,
  busyShare,
  cpuLabel,
  cpuTimes,
  hostBusyShare,
  isOtherCpu,
  pinSelfAwayFromServerCpu,
  processCpuSeconds,
  type ServerKind,
  type ServerProcess,
  startServer,
  tasksetWorks,
} from './processes.ts';
import { DOC_HEADER, markdownSection, type RoundResult, revision, roundLine } from './report.ts';

const CONNECTIONS = 32;
const POOL_MAX = 10;
const DOC = new URL('../../../docs/benchmarks.md', import.meta.url);

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/** An OTLP/HTTP endpoint that accepts every export and keeps nothing: what tracing costs the server alone. */
async function startOtlpSink(cleanup: AsyncDisposableStack): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function readOptions(): {
  durationSec: number;
  warmupSec: number;
  rounds: number;
  write: boolean;
  tracing: boolean;
  databaseUrl: string | undefined;
} {
  // biome-ignore lint/style/noProcessEnv: the harness's own knobs; it is no app, so it has no Config for them.
  const env = process.env;
  const {
    BENCH_DURATION = '10',
    BENCH_WARMUP = '30',
    BENCH_ROUNDS = '3',
    BENCH_WRITE,
    BENCH_TRACING,
    DATABASE_URL,
  } = env;
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--write');
  if (unknown.length) throw new Error(`unknown arguments: ${unknown.join(' ')} (usage: pnpm bench [--write])`);
  const durationSec = Number(BENCH_DURATION);
  const rounds = Number(BENCH_ROUNDS);
  // The full server takes tens of seconds of load before the JIT settles (measured: 45–60 s); a short
  // warm-up would make the first rounds measure compilation rather than the stack.
  const warmupSec = Number(BENCH_WARMUP);
  if (!(warmupSec > 0)) throw new Error(`BENCH_WARMUP must be a positive number of seconds, not "${BENCH_WARMUP}"`);
  if (!(durationSec > 0))
    throw new Error(`BENCH_DURATION must be a positive number of seconds, not "${BENCH_DURATION}"`);
  // Fewer rounds would make the median one (or two) samples, and a single noisy round the result.
  if (!Number.isInteger(rounds) || rounds < 3)
    throw new Error(`BENCH_ROUNDS must be an integer >= 3, not "${BENCH_ROUNDS}"`);
  return {
    durationSec,
    warmupSec,
    rounds,
    write: args.includes('--write') || BENCH_WRITE === '1',
    tracing: BENCH_TRACING === '1',
    databaseUrl: DATABASE_URL,
  };
}

const catalogGetPath = (id: string) =>
  `/trpc/catalog.get?input=${encodeURIComponent(JSON.stringify({ json: { id } }))}`;

/** Both servers must send the same bytes, or the comparison measures different work. */
async function checkSameResponse(servers: ServerProcess[], id: string): Promise<void> {
  const bodies = await Promise.all(
    servers.map(async (s) => {
      const res = await fetch(s.url + catalogGetPath(id));
      const body = await res.text();
      if (res.status !== 200) throw new Error(`${s.kind} answered ${res.status}: ${body}`);
      return body;
    }),
  );
  if (new Set(bodies).size !== 1) throw new Error(`the servers' responses differ:\n${bodies.join('\n')}`);
}

async function measure(
  server: ServerProcess,
  opts: { paths: string[]; durationSec: number; separated: boolean; signal: AbortSignal },
): Promise<Omit<RoundResult, 'round'>> {
  const cpuBefore = processCpuSeconds(server.pid);
  const othersBefore = cpuTimes(isOtherCpu);
  const started = performance.now();
  const run = autocannon({
    url: server.url,
    connections: CONNECTIONS,
    duration: opts.durationSec,
    requests: opts.paths.map((path) => ({ method: 'GET', path })),
  });
  const stop = () => run.stop();
  opts.signal.addEventListener('abort', stop);
  const result = await run;
  opts.signal.removeEventListener('abort', stop);
  opts.signal.throwIfAborted();
  const elapsedSec = (performance.now() - started) / 1000;
  const othersAfter = cpuTimes(isOtherCpu);

  if (result.errors || result.timeouts || result.non2xx) {
    throw new Error(
      `${server.kind}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx responses`,
    );
  }
  return {
    kind: server.kind,
    reqPerSec: result.requests.total / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    serverCpu: (processCpuSeconds(server.pid) - cpuBefore) / elapsedSec,
    otherCpusBusy: opts.separated ? busyShare(othersBefore, othersAfter) : null,
  };
}

// Whatever goes wrong, the run must unwind through `cleanup`, or servers and database outlive it. The
// first signal aborts the run; a second one exits at once.
const aborter = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (aborter.signal.aborted) process.exit(130);
    log(`${signal}: cleaning up (again to exit at once)...`);
    aborter.abort(new Error(`interrupted by ${signal}`));
  });
}
const fail = (err: unknown) => {
  process.exitCode = 1;
  if (aborter.signal.aborted) console.error(err);
  else aborter.abort(err);
};
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);
// A reader that went away (`pnpm bench | head`) is no reason to skip the cleanup.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

async function main(): Promise<void> {
  const options = readOptions();
  const checkpoint = () => aborter.signal.throwIfAborted();

  const hostBusy = await hostBusyShare(2000);
  log(`machine ${Math.round(hostBusy * 100)}% busy before the run`);
  const pinned = tasksetWorks();
  // Before PostgreSQL starts, so that an embedded one inherits the affinity too.
  const otherCpus = pinned ? pinSelfAwayFromServerCpu() : null;
  const placement = !pinned
    ? 'not pinned (taskset unavailable): servers, load generator and PostgreSQL share all CPUs'
    : otherCpus
      ? `servers pinned to CPU 0, load generator${options.databaseUrl ? '' : ' and PostgreSQL'} on ${cpuLabel(otherCpus)}`
      : 'servers pinned to CPU 0, the only CPU, which the load generator and PostgreSQL share';
  log(placement);

  await using cleanup = new AsyncDisposableStack();
  const db: BenchDatabase = await openDatabase(options.databaseUrl, cleanup, log);
  checkpoint();
  if (!db.productIds.length) throw new Error('the seed created no products');

  const servers: ServerProcess[] = [];
  const baseline = baselineDir();
  if (baseline) log(`baseline: the full server of ${baseline}`);
  // BENCH_TRACING=1: the full server also with tracing on, every trace and one in ten, exporting OTLP
  // to a sink here that answers every export at once (what tracing costs the server, not the collector).
  const otlpUrl = options.tracing ? await startOtlpSink(cleanup) : undefined;
  const kinds: ServerKind[] = [
    'full',
    ...(baseline ? (['baseline'] as const) : []),
    ...(options.tracing ? (['traced', 'sampled'] as const) : []),
    'bare',
  ];
  for (const kind of kinds) {
    const server = await startServer(kind, {
      databaseUrl: db.url,
      poolMax: POOL_MAX,
      pinned,
      ...(otlpUrl ? { otlpUrl } : {}),
    });
    cleanup.defer(() => server.stop());
    servers.push(server);
    checkpoint();
  }
  await checkSameResponse(servers, db.productIds[0]!);
  log(`${servers.length} servers answer identically; ${CONNECTIONS} connections, ${options.durationSec} s per round`);

  const measureOpts = {
    paths: db.productIds.map(catalogGetPath),
    ...options,
    separated: otherCpus !== null,
    signal: aborter.signal,
  };
  const results: RoundResult[] = [];
  for (let round = 0; round <= options.rounds; round++) {
    for (const server of servers) {
      const durationSec = round === 0 ? options.warmupSec : options.durationSec;
      const result = { round, ...(await measure(server, { ...measureOpts, durationSec })) };
      const label = round === 0 ? 'warm-up' : `${round}/${options.rounds}`;
      console.log(roundLine(result, label));
      if (round > 0) results.push(result);
    }
  }

  const section = markdownSection(
    {
      date: new Date(),
      hostBusy,
      postgres: db.server,
      placement,
      otherCpus,
      connections: CONNECTIONS,
      poolMax: POOL_MAX,
      durationSec: options.durationSec,
      rounds: options.rounds,
      products: db.productIds.length,
      baseline: baseline ? revision(baseline) : null,
      kinds,
    },
    results,
  );
  console.log(`\n${section}`);
  if (options.write) {
    if (!existsSync(DOC)) writeFileSync(DOC, DOC_HEADER);
    appendFileSync(DOC, `\n${section}`);
    log(`appended to docs/benchmarks.md`);
  }
}

try {
  await main();
} catch (err) {
  console.error(err);
  process.exitCode = 1;
}
