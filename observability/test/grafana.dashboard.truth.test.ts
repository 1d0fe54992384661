/**
 * Dashboard truth: a real Prometheus (Debian's binary) scrapes a real API and worker every second while
 * the test drives traffic (successes, NOT_FOUND, bad input, a failed log-in, an internal error, unknown
 * paths) and jobs (completed and failed). Then every PromQL expression of the Grafana dashboard must
 * return data — a panel that would show nothing fails the build — and every alert expression must parse
 * and the alert rules load, evaluated by that same Prometheus. The processes ask for METRICS_TOKEN and
 * Prometheus presents it as docs tell operators to (`authorization.credentials_file`).
 */
import { randomBytes } from 'node:crypto';
import { publishEvents } from '@keelson/realtime';
import {
  createProduct,
  createUsers,
  eventually,
  needsTool,
  rawCall,
  sql,
  startTestApi,
  startTestWorker,
  type TestApi,
  type TestUser,
  type TestWorker,
} from '@keelson/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardQueries, readAlertRules, readDashboard } from './files.ts';
import { hasData, startPrometheus as startPrometheusWith } from './prometheus.ts';

const METRICS_TOKEN = randomBytes(32).toString('hex');

/** Both processes scraped every second with the bearer token, the repository's alert rules loaded. */
function startPrometheus(targets: { api: string; worker: string }) {
  return startPrometheusWith({
    targets: { 'keelson-api': targets.api, 'keelson-worker': targets.worker },
    metricsToken: METRICS_TOKEN,
  });
}

describe('dashboard truth against a real Prometheus', needsTool('prometheus'), () => {
  let api: TestApi;
  let worker: TestWorker;
  let prometheus: Awaited<ReturnType<typeof startPrometheus>>;
  let product: { id: string; slug: string };
  let shopper: TestUser;
  let conversationId: string;
  let wave = 0;

  beforeAll(async () => {
    api = await startTestApi({ config: { METRICS_TOKEN, CHAT_SEND_PER_MINUTE: '10000' } });
    worker = await startTestWorker({ db: api.db, http: true, config: { METRICS_TOKEN } });
    product = await createProduct(api.db.url, { priceCents: 1200, stock: 5 });
    shopper = (await createUsers(api.db.url, 1, { prefix: 'truth-chat' }))[0] as TestUser;
    const opened = await rawCall(api.baseUrl, {
      path: 'chat.open',
      type: 'mutation',
      input: { body: 'A question for the dashboard' },
      headers: { authorization: `Bearer ${shopper.token}` },
    });
    conversationId = (opened.data as { id: string }).id;
    const host = (url: string | null) => new URL(url ?? '').host;
    prometheus = await startPrometheus({ api: host(api.metricsUrl), worker: host(worker.baseUrl) });
  }, 90_000);

  afterAll(async () => {
    await prometheus?.stop();
    await worker?.stop();
    await api?.close();
  });

  /** One round of traffic: successes and every kind of failure, plus one good and one bad job. */
  async function driveTraffic() {
    wave += 1;
    const call = (p: Parameters<typeof rawCall>[1]) => rawCall(api.baseUrl, p);
    expect((await call({ path: 'catalog.get', type: 'query', input: { slug: product.slug } })).status).toBe(200);
    expect((await call({ path: 'catalog.list', type: 'query', input: {} })).status).toBe(200);
    expect((await call({ path: 'catalog.get', type: 'query', input: { slug: `missing-${wave}` } })).status).toBe(404);
    expect((await call({ path: 'catalog.get', type: 'query', input: { slug: 42 } })).status).toBe(400);
    const logIn = { email: 'nobody@keelson.test', password: 'not the password' };
    // UNAUTHORIZED (counted as a failed log-in) until the log-in throttle answers TOO_MANY_REQUESTS.
    expect([401, 429]).toContain((await call({ path: 'auth.logIn', type: 'mutation', input: logIn })).status);
    expect((await fetch(`${api.baseUrl}/no-such-file.txt`)).status).toBe(404);
    // A batch whose calls end differently: one HTTP 207, and a NOT_FOUND call the per-call panels count.
    const batchInput = { 0: { json: { slug: product.slug } }, 1: { json: { slug: `batch-missing-${wave}` } } };
    const batch = await fetch(
      `${api.baseUrl}/trpc/catalog.get,catalog.get?batch=1&input=${encodeURIComponent(JSON.stringify(batchInput))}`,
    );
    await batch.body?.cancel();
    expect(batch.status).toBe(207);
    // A job that completes (the view count recount) and one that fails (a payload its contract rejects).
    expect((await call({ path: 'catalog.recordView', type: 'mutation', input: { id: product.id } })).status).toBe(200);
    await sql(api.db.url, `select graphile_worker.add_job('catalog__refresh_view_count', '{"productId":"bad"}'::json)`);
    // A realtime event, published as a change publishes it: the API's event hub numbers and reads it,
    // which the live-update panels show.
    await api.orm.em
      .fork()
      .transactional((tx) => publishEvents(tx, [{ topic: 'stock', payload: { productId: product.id, stock: 5 } }]));
    // A support-chat message: counted, and its event read by the hub (the chat delay panel).
    const chat = await call({
      path: 'chat.send',
      type: 'mutation',
      input: { conversationId, body: `Still waiting (${wave})` },
      headers: { authorization: `Bearer ${shopper.token}` },
    });
    expect(chat.status).toBe(200);
    // An internal error, safely: this file's own database loses the product table for one call.
    await sql(api.db.url, 'alter table product rename to product_hidden');
    try {
      const broken = await call({ path: 'catalog.get', type: 'query', input: { slug: `internal-${wave}` } });
      expect(broken.status).toBe(500);
    } finally {
      await sql(api.db.url, 'alter table product_hidden rename to product');
    }
  }

  it('scrapes both processes with the bearer token', async () => {
    const up = await eventually(async () => {
      const { data } = await prometheus.query('up');
      const series = (data?.result ?? []) as { metric: Record<string, string>; value: [number, string] }[];
      return series.length === 2 ? series : null;
    }, 30_000);
    expect(Object.fromEntries(up.map((s) => [s.metric.job, s.value[1]]))).toEqual({
      'keelson-api': '1',
      'keelson-worker': '1',
    });
  });

  it('every query of the dashboard returns data once traffic and jobs have been scraped', {
    timeout: 180_000,
  }, async () => {
    const dashboard = readDashboard();
    // Grafana's $__rate_interval is at least 4 scrape intervals; a minute spans every wave of traffic.
    const queries = dashboardQueries(dashboard, '1m');
    expect(queries.length).toBeGreaterThan(20);
    let empty: string[] = [];
    // Traffic keeps coming until every panel has something to draw: rates need two scrapes of a
    // series after it changed, and histogram quantiles need observations in the window.
    let lastWave = 0;
    await eventually(async () => {
      // About a wave per scrape: Prometheus must see the counters move between its scrapes.
      if (Date.now() - lastWave < 1000) return false;
      lastWave = Date.now();
      await driveTraffic();
      const results = await Promise.all(queries.map(async (q) => ({ q, result: await prometheus.query(q.expr) })));
      const broken = results.filter((r) => r.result.status !== 'success');
      expect(broken.map((r) => `${r.q.panel} ${r.q.refId}: ${r.result.error}`)).toEqual([]);
      empty = results.filter((r) => !hasData(r.result)).map((r) => `${r.q.panel} ${r.q.refId}: ${r.q.expr}`);
      return empty.length === 0;
    }, 120_000).catch((err: Error) => {
      if (!err.message.startsWith('condition not met')) throw err;
      throw new Error(`panels without data after ${wave} waves of traffic:\n${empty.join('\n')}`);
    });
  });

  it('every alert expression parses, and Prometheus loads and evaluates the alert rules', async () => {
    for (const rule of readAlertRules()) {
      const result = await prometheus.query(rule.expr);
      expect(result.status, `${rule.alert}: ${result.error}`).toBe('success');
    }
    const rules = await eventually(async () => {
      const res = (await (await fetch(`${prometheus.url}/api/v1/rules?type=alert`)).json()) as {
        data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
      };
      const all = res.data.groups.flatMap((g) => g.rules);
      // Health is `unknown` until a rule's first evaluation.
      return all.length > 0 && all.every((r) => r.health !== 'unknown') ? all : null;
    }, 30_000);
    expect(rules.map((r) => r.name).sort()).toEqual(
      readAlertRules()
        .map((r) => r.alert)
        .sort(),
    );
    for (const r of rules) expect(r.health, `${r.name}: ${r.lastError}`).toBe('ok');
  });
});
