/**
 * What must hold after any fault: no process died, every order is consistent and its stock accounted
 * for, every checkout a client saw succeed exists and none exists that no client saw, every job ran (and
 * sent its email) once, the pools are back to idle and every process is ready again.
 */
import { readdir } from 'node:fs/promises';
import { stockDiscrepancies } from '@keelson/testing/commerce';
import type { Load } from './load.ts';
import { query, type StackProcess, sleep } from './stack.ts';

export interface Findings {
  failures: string[];
  figures: Record<string, number | string>;
}

async function eventually(fn: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await fn().catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await sleep(250);
  }
}

/** `keelson_db_pool_connections` of one process: in_use, idle, waiting. */
export async function poolGauges(metricsUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const gauges: Record<string, number> = {};
  for (const m of text.matchAll(/^keelson_db_pool_connections\{state="(\w+)"\} (\d+)/gm)) {
    gauges[m[1] as string] = Number(m[2]);
  }
  return gauges;
}

export async function readyStatus(baseUrl: string, timeoutMs = 3_000): Promise<number> {
  const res = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(timeoutMs) }).catch(() => null);
  return res?.status ?? 0;
}

export interface CheckOptions {
  databaseUrl: string;
  mailDir: string;
  load: Load;
  api: StackProcess[];
  worker: StackProcess;
  /** How long the worker may take to work off what the drill left queued (retries back off). */
  settleMs: number;
}

export async function checkInvariants(opts: CheckOptions): Promise<Findings> {
  const failures: string[] = [];
  const figures: Record<string, number | string> = {};
  const url = opts.databaseUrl;
  const processes = [...opts.api, opts.worker];

  for (const p of processes) {
    const exit = p.exit();
    if (exit) failures.push(`${p.name} exited (${exit.signal ?? exit.code})`);
  }

  // Payments are taken by jobs; retried ones back off, so give the queue time to empty.
  const started = Date.now();
  const settled = await eventually(async () => {
    const [row] = await query<{ pending: number; jobs: number }>(
      url,
      `select (select count(*)::int from store_order where status = 'pending_payment') as pending,
              (select count(*)::int from graphile_worker.jobs where attempts < max_attempts) as jobs`,
    );
    return row?.pending === 0 && row.jobs === 0;
  }, opts.settleMs);
  figures['queue settled after (ms)'] = Date.now() - started;
  if (!settled) {
    const jobs = await query(
      url,
      `select task_identifier as task, attempts, locked_by is not null as locked,
              round(extract(epoch from run_at - now())) as due_in_s, left(last_error, 160) as last_error
         from graphile_worker.jobs order by id limit 5`,
    );
    const [pending] = await query<{ n: number }>(
      url,
      `select count(*)::int as n from store_order where status = 'pending_payment'`,
    );
    failures.push(
      `queue not worked off within ${opts.settleMs} ms: ${pending?.n} order(s) pending payment; jobs ${JSON.stringify(jobs)}`,
    );
  }

  const [failed] = await query<{ n: number; errors: string[] }>(
    url,
    `select count(*)::int as n, array_agg(distinct left(last_error, 120)) as errors
       from graphile_worker.jobs where attempts >= max_attempts`,
  );
  if (failed?.n) failures.push(`${failed.n} job(s) failed for good: ${failed.errors.join('; ')}`);

  // Each order's status is the last step of its history, and no step happened twice (a job run twice).
  const [orders] = await query<{ total: number; inconsistent: number; repeated: number; statuses: string }>(
    url,
    `select (select count(*)::int from store_order) as total,
            (select count(*)::int from store_order o
               where o.status <> (select e.to_status from order_event e where e.order_id = o.id
                                  order by e.at desc, e.id desc limit 1)) as inconsistent,
            (select count(*)::int from (select 1 from order_event group by order_id, to_status having count(*) > 1) r) as repeated,
            (select string_agg(status || ' ' || n, ', ' order by status)
               from (select status, count(*) as n from store_order group by status) s) as statuses`,
  );
  figures.orders = orders?.total ?? 0;
  figures['order statuses'] = orders?.statuses ?? '';
  if (orders?.inconsistent)
    failures.push(`${orders.inconsistent} order(s) whose status is not their history's last step`);
  if (orders?.repeated) failures.push(`${orders.repeated} order step(s) recorded twice`);

  const stock = await stockDiscrepancies(url);
  if (stock.length) failures.push(`stock not accounted for: ${JSON.stringify(stock.slice(0, 3))}`);

  // Nothing lost either way: every order a client was told about exists, and every order that exists was
  // told to a client (a checkout answered 5xx or cut after it committed would leave one nobody knows of).
  const ordered = opts.load.checkouts.filter((c) => c.orderId).map((c) => c.orderId as string);
  const [known] = await query<{ n: number }>(url, 'select count(*)::int as n from store_order where id = any($1)', [
    ordered,
  ]);
  figures.checkouts = opts.load.checkouts.length;
  figures['checkouts ordered'] = ordered.length;
  figures['checkouts refused'] = opts.load.checkouts.filter((c) => !c.orderId && c.outcome !== 'gave up').length;
  figures['checkouts retried'] = opts.load.checkouts.filter((c) => c.attempts > 1).length;
  const gaveUp = opts.load.checkouts.filter((c) => c.outcome === 'gave up').length;
  figures['checkouts lost'] = gaveUp + (orders?.total ?? 0) - (known?.n ?? 0);
  if (gaveUp) failures.push(`${gaveUp} checkout(s) got no definitive answer`);
  if ((known?.n ?? 0) !== ordered.length)
    failures.push(`${ordered.length - (known?.n ?? 0)} confirmed order(s) missing`);
  if ((orders?.total ?? 0) !== ordered.length) {
    failures.push(`${(orders?.total ?? 0) - ordered.length} order(s) exist that no client was told about`);
  }
  if (opts.load.inconsistentReads.length) {
    failures.push(
      `${opts.load.inconsistentReads.length} orders.get read(s) disagreed with themselves, e.g. ${JSON.stringify(opts.load.inconsistentReads[0])}`,
    );
  }

  // At most once: one mail file per recorded delivery.
  const [mail] = await query<{ sent: number }>(
    url,
    'select count(*)::int as sent from email_delivery where sent_at is not null',
  );
  const files = (await readdir(opts.mailDir).catch(() => [])).filter((f) => f.endsWith('.eml')).length;
  figures['emails sent'] = files;
  if (files !== (mail?.sent ?? 0)) failures.push(`${files} mail file(s) for ${mail?.sent ?? 0} recorded deliveries`);

  // The pools give every connection back once the load is gone, and every process reports ready.
  for (const api of opts.api) {
    if (api.exit()) continue;
    const idle = await eventually(async () => {
      const g = await poolGauges(api.metricsUrl);
      return g.in_use === 0 && g.waiting === 0;
    }, 5_000);
    if (!idle)
      failures.push(`${api.name} pool not idle: ${JSON.stringify(await poolGauges(api.metricsUrl).catch(() => ({})))}`);
  }
  for (const p of processes) {
    if (p.exit()) continue;
    if (!(await eventually(async () => (await readyStatus(p.baseUrl)) === 200, 5_000))) {
      failures.push(`${p.name} /readyz is not 200 after the drill`);
    }
  }
  return { failures, figures };
}

/** Figures of the recorded requests: totals by outcome, slowest answer. */
export function requestFigures(load: Load): Record<string, number> {
  const r = load.records;
  const slowest = r.reduce((max, x) => Math.max(max, x.end - x.start), 0);
  return {
    requests: r.length,
    'answered 2xx': r.filter((x) => x.status >= 200 && x.status < 300).length,
    'answered 4xx': r.filter((x) => x.status >= 400 && x.status < 500).length,
    'answered 503': r.filter((x) => x.status === 503).length,
    'answered 500': r.filter((x) => x.status === 500).length,
    'no answer': r.filter((x) => x.status === 0).length,
    'slowest answer (ms)': Math.round(slowest),
  };
}
