/**
 * `pnpm bench:checkout [--write]`: `orders.checkout` through the whole stack, in two shapes of load:
 *
 * - **spread**: every checkout buys one unit of one of the 60 products (little row-lock contention);
 * - **hot**: every checkout buys the same product, so every transaction queues on one row lock — the
 *   flash-sale case the oversell test proves correct, measured here for its cost.
 *
 * Each request is a different customer with one cart line (made beforehand in SQL), so every checkout
 * does the full work: idempotency key, cart lock, conditional stock update, order + line + history
 * rows, cart delete, NOTIFY, job insert. The worker is not running (payments are not measured).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import autocannon from 'autocannon';
import pg from 'pg';
import { openDatabase, query } from './database.ts';
import {
  baselineDir,
  busyShare,
  cpuLabel,
  cpuTimes,
  isOtherCpu,
  pinSelfAwayFromServerCpu,
  processCpuSeconds,
  type ServerKind,
  type ServerProcess,
  startServer,
  tasksetWorks,
} from './processes.ts';
import { cpuModel, median, revision, table } from './report.ts';

const CONNECTIONS = 32;
const POOL_MAX = 10;
const DOC = new URL('../../../docs/benchmarks.md', import.meta.url);
const log = (line: string) => process.stderr.write(`[bench:checkout] ${line}\n`);

// biome-ignore lint/style/noProcessEnv: the harness's own knobs; it is no app, so it has no Config for them.
const { BENCH_CHECKOUTS = '3000', BENCH_ROUNDS = '3', BENCH_SYNCHRONOUS_COMMIT, DATABASE_URL } = process.env;
const checkoutsPerRound = Number(BENCH_CHECKOUTS);
const rounds = Number(BENCH_ROUNDS);
const write = process.argv.includes('--write');
if (!(checkoutsPerRound >= 100)) throw new Error('BENCH_CHECKOUTS must be at least 100');
if (!Number.isInteger(rounds) || rounds < 3) throw new Error('BENCH_ROUNDS must be an integer >= 3');

type Shape = 'spread' | 'hot';
interface Round {
  kind: ServerKind;
  shape: Shape;
  ordersPerSec: number;
  p50Ms: number;
  p99Ms: number;
  serverCpu: number;
  /** Busy share of the CPUs PostgreSQL and the load generator share. */
  otherCpusBusy: number;
}

/** `count` customers, each signed in (bearer token) with one unit of a product in the cart. */
async function customersWithCarts(url: string, productIds: string[], count: number): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tokens = Array.from({ length: count }, () => randomBytes(32).toString('base64url'));
    const prefix = randomBytes(4).toString('hex');
    await client.query(
      `with u as (
         insert into app_user (id, email, name, role, created_at, updated_at)
         select gen_random_uuid(), $1 || '-' || i || '@bench.test', 'Bench', 'customer', now(), now()
         from generate_series(1, $2::int) as i returning id, email
       ), numbered as (select id, row_number() over (order by email) as n from u),
       s as (
         insert into auth_session (id, token_hash, user_id, expires_at, absolute_expires_at, created_at, last_used_at)
         select gen_random_uuid(), encode(sha256(convert_to(t.token, 'UTF8')), 'hex'), numbered.id,
                now() + interval '1 day', now() + interval '1 day', now(), now()
         from numbered join unnest($3::text[]) with ordinality as t(token, n) using (n) returning user_id
       )
       insert into cart_item (id, user_id, product_id, quantity, price_cents_seen, added_at, updated_at)
       select gen_random_uuid(), numbered.id, ($4::uuid[])[1 + (numbered.n - 1) % array_length($4::uuid[], 1)], 1, 0, now(), now()
       from numbered`,
      [prefix, count, tokens, productIds],
    );
    return tokens;
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const pinned = tasksetWorks();
  const otherCpus = pinned ? pinSelfAwayFromServerCpu() : null;
  await using cleanup = new AsyncDisposableStack();
  const db = await openDatabase(DATABASE_URL, cleanup, log);
  await query(db.url, 'update product set stock = 10000000');
  // An experiment knob: `off` shows how much of a checkout's time is waiting for its commit to be flushed.
  if (BENCH_SYNCHRONOUS_COMMIT) {
    if (!['on', 'off', 'local'].includes(BENCH_SYNCHRONOUS_COMMIT)) {
      throw new Error('BENCH_SYNCHRONOUS_COMMIT must be on, off or local');
    }
    const name = new URL(db.url).pathname.slice(1);
    await query(db.url, `alter database "${name}" set synchronous_commit = ${BENCH_SYNCHRONOUS_COMMIT}`);
  }
  // With BENCH_BASELINE, an earlier commit's server too, its rounds interleaved with this one's.
  const baseline = baselineDir();
  const servers: ServerProcess[] = [];
  for (const kind of baseline ? (['full', 'baseline'] as const) : (['full'] as const)) {
    const server = await startServer(kind, { databaseUrl: db.url, poolMax: POOL_MAX, pinned });
    cleanup.defer(() => server.stop());
    servers.push(server);
  }

  async function round(server: ServerProcess, shape: Shape, amount: number): Promise<Round> {
    const products = shape === 'hot' ? db.productIds.slice(0, 1) : db.productIds;
    const tokens = await customersWithCarts(db.url, products, amount);
    // Steady state between rounds, as in production: the worker would have drained the payment jobs,
    // and autovacuum would have caught up with the rows this benchmark churns through in seconds.
    // Measured without this, throughput fell round after round (246 to 176 orders/s over six rounds).
    await query(db.url, 'delete from graphile_worker._private_jobs');
    await query(db.url, 'vacuum analyze');
    let next = 0;
    const cpuBefore = processCpuSeconds(server.pid);
    const othersBefore = cpuTimes(isOtherCpu);
    // Throughput from the first request sent to the last response received: autocannon itself runs on a
    // one-second tick, which would add up to a second to a run of a fixed number of requests.
    let started = 0;
    let ended = 0;
    const run = autocannon({
      url: server.url,
      connections: CONNECTIONS,
      amount,
      requests: [
        {
          method: 'POST',
          path: '/trpc/orders.checkout',
          setupRequest: (req) => {
            started ||= performance.now();
            return {
              ...req,
              headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[next++ % amount]}` },
              body: JSON.stringify({ json: { idempotencyKey: randomUUID(), paymentToken: 'tok_visa' } }),
            };
          },
        },
      ],
    });
    run.on('response', () => {
      ended = performance.now();
    });
    const result = await run;
    const elapsed = (ended - started) / 1000;
    const othersAfter = cpuTimes(isOtherCpu);
    if (result.errors || result.timeouts || result.non2xx) {
      throw new Error(`${shape}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx`);
    }
    return {
      kind: server.kind,
      shape,
      ordersPerSec: result.requests.total / elapsed,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      serverCpu: (processCpuSeconds(server.pid) - cpuBefore) / elapsed,
      otherCpusBusy: busyShare(othersBefore, othersAfter),
    };
  }

  log(`warm-up: ${checkoutsPerRound} checkouts of each shape per server`);
  for (const server of servers)
    for (const shape of ['spread', 'hot'] as const) await round(server, shape, checkoutsPerRound);
  const results: Round[] = [];
  for (let i = 1; i <= rounds; i++) {
    for (const shape of ['spread', 'hot'] as const) {
      for (const server of servers) {
        const r = await round(server, shape, checkoutsPerRound);
        results.push(r);
        log(
          `${i}/${rounds} ${server.kind.padEnd(8)} ${shape.padEnd(6)} ${Math.round(r.ordersPerSec)} orders/s  p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  server CPU ${Math.round(r.serverCpu * 100)}%  other CPUs ${Math.round(r.otherCpusBusy * 100)}% busy`,
        );
      }
    }
  }
  const [{ orders } = { orders: '0' }] = await query<{ orders: string }>(
    db.url,
    'select count(*) as orders from store_order',
  );
  const expected = checkoutsPerRound * (rounds + 1) * 2 * servers.length;
  if (Number(orders) !== expected) throw new Error(`expected ${expected} orders, found ${orders}`);

  const baselineRev = baseline ? revision(baseline) : null;
  const label = (kind: ServerKind) => (kind === 'baseline' ? `at ${baselineRev}` : 'this commit');
  const rows = servers.flatMap(({ kind }) =>
    (['spread', 'hot'] as const).map((shape) => {
      const rs = results.filter((r) => r.shape === shape && r.kind === kind);
      return [
        ...(baseline ? [label(kind)] : []),
        shape,
        Math.round(median(rs.map((r) => r.ordersPerSec))).toLocaleString('en-US'),
        String(median(rs.map((r) => r.p50Ms))),
        String(median(rs.map((r) => r.p99Ms))),
        `${Math.round(median(rs.map((r) => r.serverCpu)) * 100)}%`,
        `${Math.round(median(rs.map((r) => r.otherCpusBusy)) * 100)}%`,
      ];
    }),
  );
  const ratios = baseline
    ? (['spread', 'hot'] as const).map((shape) => {
        const of = (kind: ServerKind) =>
          median(results.filter((r) => r.shape === shape && r.kind === kind).map((r) => r.ordersPerSec));
        return `${shape} ${(of('full') / of('baseline')).toFixed(2)}`;
      })
    : [];
  const placement = pinned
    ? `server pinned to CPU 0, load generator and PostgreSQL on ${cpuLabel(otherCpus ?? '?')}`
    : 'not pinned';
  const section = [
    `## checkout · ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC · ${revision()}`,
    '',
    `${cpuModel()} · Node ${process.version} · ${db.server}${BENCH_SYNCHRONOUS_COMMIT ? ` (synchronous_commit=${BENCH_SYNCHRONOUS_COMMIT})` : ''} · ${placement} · ${CONNECTIONS} connections · pool ${POOL_MAX} · ${rounds} rounds of ${checkoutsPerRound} checkouts per shape after a warm-up round`,
    '',
    ...table(
      [
        ...(baseline ? ['server'] : []),
        'load',
        'orders/s',
        'p50 ms',
        'p99 ms',
        'server CPU',
        `${otherCpus ? cpuLabel(otherCpus) : 'other CPUs'} busy`,
      ],
      [...(baseline ? [false] : []), false, true, true, true, true, true],
      rows,
    ),
    '',
    ...(baseline
      ? [`**this commit / ${baselineRev} orders/s: ${ratios.join(', ')}** (medians over interleaved rounds)`, '']
      : []),
    `${expected.toLocaleString('en-US')} checkouts, all answered 200; the database holds exactly that many orders.`,
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
