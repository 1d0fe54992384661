/**
 * The fault drills behind `pnpm drill`, each against real processes and a real PostgreSQL under load
 * from many client addresses:
 * - `kill`: every app connection terminated (`pg_terminate_backend`) every few seconds for a minute;
 * - `restart`: the PostgreSQL server stopped (fast shutdown, as in a failover) and started again;
 * - `sigterm`: the API stopped with SIGTERM mid-load and started again, as a deploy does.
 * Each ends with the same invariants (checks.ts) and returns figures for the report.
 */
import { createProduct, createUsers } from '@keelson/testing/commerce';
import { checkInvariants, type Findings, readyStatus, requestFigures } from './checks.ts';
import { clientAddresses, type Load, type Shopper, startLoad } from './load.ts';
import {
  createDrillDatabase,
  type DrillDatabase,
  freePort,
  killConnections,
  type Log,
  mailFolder,
  type StackProcess,
  sleep,
  startApi,
  startDrillServer,
  startWorker,
} from './stack.ts';

export interface DrillReport {
  drill: 'kill' | 'restart' | 'sigterm';
  database: string;
  passed: boolean;
  figures: Record<string, number | string>;
  failures: string[];
}

export interface DrillOptions {
  /** Simulated clients, each from its own loopback address. */
  clients: number;
  log: Log;
}

interface Stack {
  db: DrillDatabase;
  mailDir: string;
  api: StackProcess;
  apiPort: number;
  worker: StackProcess;
  /** Runs `fn` when the drill ends, however it ends (processes it started later, for instance). */
  defer(fn: () => Promise<unknown>): void;
  shoppers: Shopper[];
  productIds: string[];
}

const STACK_ENV = {
  // Short, so that a drill of a minute sees many acquisitions time out rather than a few.
  DATABASE_ACQUIRE_TIMEOUT_MS: '3000',
  WORKER_CONCURRENCY: '4',
};

async function withStack<T>(adminUrl: string, opts: DrillOptions, fn: (stack: Stack) => Promise<T>): Promise<T> {
  await using cleanup = new AsyncDisposableStack();
  const db = await createDrillDatabase(adminUrl);
  cleanup.defer(() => db.drop());
  const mail = await mailFolder();
  cleanup.defer(() => mail.remove());
  // Two scarce products (shoppers compete for the last units) and plenty of the rest.
  const products = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      createProduct(db.url, { priceCents: 500 + i * 100, stock: i < 2 ? 40 : 100_000 }),
    ),
  );
  const users = await createUsers(db.url, opts.clients, { prefix: 'drill' });
  const ips = clientAddresses(opts.clients);
  const shoppers = users.map((u, i) => ({ token: u.token, ip: ips[i] as string }));
  const env = { databaseUrl: db.url, mailDir: mail.dir, env: STACK_ENV };
  const [apiPort, workerPort] = [await freePort(), await freePort()];
  const worker = await startWorker({ ...env, port: workerPort });
  cleanup.defer(() => worker.process.stop('SIGKILL').then(() => {}));
  const api = await startApi({ ...env, port: apiPort });
  cleanup.defer(() => api.process.stop('SIGKILL').then(() => {}));
  opts.log(`stack up: ${db.server}, database ${db.name}, API ${api.baseUrl}, ${opts.clients} clients`);
  // Awaited here: returning the bare promise would dispose of the stack before the drill ran.
  return await fn({
    db,
    mailDir: mail.dir,
    api,
    apiPort,
    worker,
    shoppers,
    productIds: products.map((p) => p.id),
    defer: (later) => cleanup.defer(() => later().then(() => {})),
  });
}

function load(stack: Stack, baseUrl = stack.api.baseUrl): Load {
  return startLoad({
    baseUrl,
    shoppers: stack.shoppers,
    productIds: stack.productIds,
    giveUpMs: 60_000,
    requestTimeoutMs: 30_000,
  });
}

function report(drill: DrillReport['drill'], stack: Stack, findings: Findings[]): DrillReport {
  const figures = Object.assign({}, ...findings.map((f) => f.figures));
  const failures = findings.flatMap((f) => f.failures);
  // A fault may make the database unavailable (503, retried); it never excuses an internal error.
  if (figures['answered 500']) failures.push(`${figures['answered 500']} request(s) answered 500`);
  return { drill, database: stack.db.server, passed: failures.length === 0, figures, failures };
}

/** The invariants (checks.ts) of a drill's stack and load; the queue may take `settleMs` to empty. */
function invariantsOf(stack: Stack, traffic: Load, opts: { api: StackProcess; settleMs: number }): Promise<Findings> {
  return checkInvariants({
    databaseUrl: stack.db.url,
    mailDir: stack.mailDir,
    load: traffic,
    api: [opts.api],
    worker: stack.worker,
    settleMs: opts.settleMs,
  });
}

/** Requests after `from` that did not get a 2xx or a business 4xx, and how long after `from` the last one ended. */
function failuresAfter(l: Load, from: number): { count: number; lastMs: number } {
  const bad = l.records.filter((r) => r.start >= from && (r.status === 0 || r.status >= 500));
  return { count: bad.length, lastMs: bad.length ? Math.round(Math.max(...bad.map((r) => r.end)) - from) : 0 };
}

/** Lines of a process's log that say something went wrong that no fault excuses: the first three, and a count. */
function unexpectedLogLines(p: StackProcess): string[] {
  const lines = p.process
    .output()
    .split('\n')
    .filter((line) =>
      /driver has already been destroyed|"level":60|"msg":"procedure failed"|"msg":"unhandled error"/.test(line),
    );
  const shown = lines.slice(0, 3).map((line) => `${p.name} logged: ${line.slice(0, 300)}`);
  return lines.length > 3 ? [...shown, `${p.name} logged ${lines.length - 3} more such line(s)`] : shown;
}

export async function killDrill(
  adminUrl: string,
  opts: DrillOptions & { durationMs: number; intervalMs: number },
): Promise<DrillReport> {
  return withStack(adminUrl, opts, async (stack) => {
    const traffic = load(stack);
    await sleep(3_000);
    let rounds = 0;
    let killed = 0;
    const faultsEnd = performance.now() + opts.durationMs;
    let lastKill = performance.now();
    while (performance.now() < faultsEnd) {
      killed += await killConnections(adminUrl, stack.db.name);
      lastKill = performance.now();
      rounds++;
      await sleep(opts.intervalMs);
    }
    opts.log(`kill: ${rounds} rounds, ${killed} connections terminated; recovering`);
    // Everything started 5 s after the last kill must succeed.
    await sleep(15_000);
    await traffic.stop();
    const after = failuresAfter(traffic, lastKill + 5_000);
    const recovery = failuresAfter(traffic, lastKill);
    const faults: Findings = {
      failures: [
        ...(after.count ? [`${after.count} request(s) started 5 s or more after the last kill failed`] : []),
        ...unexpectedLogLines(stack.api),
        ...unexpectedLogLines(stack.worker),
      ],
      figures: {
        'kill rounds': rounds,
        'connections terminated': killed,
        'requests failing after last kill (ms)': recovery.lastMs,
        ...requestFigures(traffic),
      },
    };
    const invariants = await invariantsOf(stack, traffic, { api: stack.api, settleMs: 120_000 });
    return report('kill', stack, [faults, invariants]);
  });
}

export async function restartDrill(opts: DrillOptions & { downMs: number; binDir?: string }): Promise<DrillReport> {
  const server = await startDrillServer({ binDir: opts.binDir, log: opts.log });
  try {
    return await withStack(server.adminUrl, opts, async (stack) => {
      const traffic = load(stack);
      await sleep(3_000);
      // Probed four times a second while the server is down: each answer must come within a second.
      const probes: { process: string; status: number; ms: number; down: boolean }[] = [];
      let down = false;
      let probing = true;
      const probe = async (p: StackProcess) => {
        while (probing) {
          const t0 = performance.now();
          const status = await readyStatus(p.baseUrl, 5_000);
          probes.push({ process: p.name, status, ms: performance.now() - t0, down });
          await sleep(250);
        }
      };
      const probing$ = Promise.all([probe(stack.api), probe(stack.worker)]);
      await server.stop();
      down = true;
      const stoppedAt = performance.now();
      opts.log(`restart: PostgreSQL stopped for ${opts.downMs} ms`);
      await sleep(opts.downMs);
      await server.start();
      down = false;
      const startedAt = performance.now();
      // Bounded: a process that never recovers is this drill's finding, not a hang.
      const readyAgain = async (p: StackProcess) => {
        const deadline = startedAt + 30_000;
        while ((await readyStatus(p.baseUrl)) !== 200) {
          if (performance.now() > deadline) return Number.NaN;
          await sleep(100);
        }
        return performance.now() - startedAt;
      };
      const [apiReadyMs, workerReadyMs] = await Promise.all([readyAgain(stack.api), readyAgain(stack.worker)]);
      await sleep(15_000);
      probing = false;
      await probing$;
      await traffic.stop();
      const whileDown = probes.filter((p) => p.down);
      const slow = whileDown.filter((p) => p.ms > 1_200);
      // The first probe may have started before the stop took effect.
      const readyWhileDown = whileDown.filter((p) => p.status === 200).length;
      const after = failuresAfter(traffic, startedAt + 5_000);
      const faults: Findings = {
        failures: [
          ...(slow.length ? [`${slow.length} /readyz answer(s) took over a second while the database was down`] : []),
          ...(readyWhileDown > 2 ? [`/readyz answered 200 ${readyWhileDown} times while the database was down`] : []),
          ...(whileDown.some((p) => p.status === 0)
            ? ['a /readyz probe got no answer while the database was down']
            : []),
          ...(after.count ? [`${after.count} request(s) started 5 s or more after the restart failed`] : []),
          ...(Number.isNaN(apiReadyMs) ? ['the API was not ready again within 30 s of the restart'] : []),
          ...(Number.isNaN(workerReadyMs) ? ['the worker was not ready again within 30 s of the restart'] : []),
          ...unexpectedLogLines(stack.api),
          ...unexpectedLogLines(stack.worker),
        ],
        figures: {
          'database down (ms)': Math.round(startedAt - stoppedAt),
          '/readyz probes while down': whileDown.length,
          '/readyz 503 while down': whileDown.filter((p) => p.status === 503).length,
          'slowest /readyz while down (ms)': Math.round(Math.max(0, ...whileDown.map((p) => p.ms))),
          'api ready after restart (ms)': Math.round(apiReadyMs),
          'worker ready after restart (ms)': Math.round(workerReadyMs),
          'requests failing after restart (ms)': failuresAfter(traffic, startedAt).lastMs,
          ...requestFigures(traffic),
        },
      };
      const invariants = await invariantsOf(stack, traffic, { api: stack.api, settleMs: 120_000 });
      return report('restart', stack, [faults, invariants]);
    });
  } finally {
    await server.destroy();
  }
}

export async function sigtermDrill(adminUrl: string, opts: DrillOptions & { cycles: number }): Promise<DrillReport> {
  return withStack(adminUrl, opts, async (stack) => {
    const traffic = load(stack);
    const apis: StackProcess[] = [stack.api];
    const failures: string[] = [];
    let inFlight = 0;
    let checkoutsInFlight = 0;
    let cutBefore = 0;
    let refusedAfter = 0;
    const exits: string[] = [];
    for (let cycle = 0; cycle < opts.cycles; cycle++) {
      await sleep(3_000);
      const current = apis.at(-1) as StackProcess;
      const signalled = performance.now();
      const open = traffic.records.length;
      const stopping = current.process.stop('SIGTERM');
      const { code, ms } = await stopping;
      exits.push(`${code} in ${Math.round(ms)} ms`);
      if (code !== 0) failures.push(`${current.name} exited ${code} after SIGTERM`);
      failures.push(...unexpectedLogLines(current));
      // The deploy's new process, on the same port: clients reconnect to it.
      const next = await startApi({
        databaseUrl: stack.db.url,
        mailDir: stack.mailDir,
        env: STACK_ENV,
        port: stack.apiPort,
        name: `api#${cycle + 2}`,
      });
      stack.defer(() => next.process.stop('SIGKILL'));
      apis.push(next);
      await sleep(1_000);
      // Requests sent before the signal must all have been answered, and by the stopping process.
      const before = traffic.records.filter((r) => r.start < signalled && r.end >= signalled);
      inFlight += before.length;
      checkoutsInFlight += before.filter((r) => r.op === 'orders.checkout' && r.status === 200).length;
      cutBefore += before.filter((r) => r.status === 0 || r.status >= 500).length;
      refusedAfter += traffic.records.slice(open).filter((r) => r.start >= signalled && r.status === 0).length;
    }
    await sleep(3_000);
    await traffic.stop();
    if (cutBefore) failures.push(`${cutBefore} request(s) in flight at SIGTERM got no answer or a 5xx`);
    const faults: Findings = {
      failures,
      figures: {
        'SIGTERM cycles': opts.cycles,
        'exits (code in time)': exits.join(', '),
        'requests in flight at SIGTERM': inFlight,
        'in-flight requests lost': cutBefore,
        'checkouts in flight at SIGTERM answered 200': checkoutsInFlight,
        'requests refused while restarting (retried by clients)': refusedAfter,
        ...requestFigures(traffic),
      },
    };
    const live = apis.at(-1) as StackProcess;
    const invariants = await invariantsOf(stack, traffic, { api: live, settleMs: 60_000 });
    return report('sigterm', stack, [faults, invariants]);
  });
}
