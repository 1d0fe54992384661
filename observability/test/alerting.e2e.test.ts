/**
 * Alerting end to end, with nothing mocked: a real API (and worker) scraped by a real Prometheus that
 * evaluates the repository's alert rules (as they are, or with their `for:` and windows shortened to a
 * test's clock), sending to a real Alertmanager configured with the repository's alertmanager.yml, which
 * mails a local SMTP server and posts to a local webhook. Each test starts its own processes and stops
 * them, and is bounded in time.
 */
import {
  createProduct,
  eventually,
  freePort,
  needsTool,
  rawCall,
  sampleValue,
  scrapeMetrics,
  sql,
  startSmtpCapture,
  startTestApi,
  startTestWorker,
  type TestApi,
  tcpProxy,
  testDatabase,
} from '@keelson/testing';
import { describe, expect, it } from 'vitest';
import { readAlertRules } from './files.ts';
import {
  type AlertmanagerNotification,
  hostOf,
  localAlertmanagerConfig,
  type Prometheus,
  shortenedAlertRules,
  startAlertmanager,
  startPrometheus,
  startWebhookReceiver,
} from './prometheus.ts';

const SCRAPE_MS = 1_000;
const INTERNAL_ERRORS =
  'keelson_trpc_procedure_duration_seconds_count{procedure="catalog.get",code="INTERNAL_SERVER_ERROR"}';
const OPERATORS = 'operators@keelson.local';
const STALE_TASK = 'catalog__refresh_view_count';

/** KeelsonHighErrorRatio's ratio (its threshold cut off), over `window` instead of its 5 minutes. */
function errorRatio(window: string): string {
  const rule = readAlertRules().find((r) => r.alert === 'KeelsonHighErrorRatio');
  if (!rule) throw new Error('KeelsonHighErrorRatio is not in alerts.yml');
  const ratio = rule.expr.trim().replace(/\s*>\s*[\d.]+$/, '');
  expect(ratio).not.toBe(rule.expr.trim());
  return `(${ratio.replace(/\[5m\]/g, `[${window}]`)})`;
}

/** The value of a query's single series; null when it has none. */
async function single(prometheus: Prometheus, expr: string): Promise<number | null> {
  const series = await prometheus.vector(expr);
  if (series.length > 1) throw new Error(`${series.length} series for ${expr}`);
  return series[0]?.value ?? null;
}

/** Until Prometheus holds two samples of catalog.get's INTERNAL_SERVER_ERROR series: increase() has its baseline. */
async function zeroSeriesScraped(prometheus: Prometheus) {
  await eventually(
    async () => ((await single(prometheus, `count_over_time(${INTERNAL_ERRORS}[1m])`)) ?? 0) >= 2,
    30_000,
  );
}

/**
 * One call of catalog.get answering INTERNAL_SERVER_ERROR, safely: this test's own database loses the
 * product table for the length of the call. Returns when the 500 has been answered.
 */
async function oneInternalError(api: TestApi): Promise<void> {
  await sql(api.db.url, 'alter table product rename to product_hidden');
  try {
    const broken = await rawCall(api.baseUrl, { path: 'catalog.get', type: 'query', input: { slug: 'first-error' } });
    expect(broken.status).toBe(500);
    expect(broken.error?.data.code).toBe('INTERNAL_SERVER_ERROR');
  } finally {
    await sql(api.db.url, 'alter table product_hidden rename to product');
  }
}

describe('alerting end to end', needsTool('prometheus', 'prometheus-alertmanager'), () => {
  it('the first internal error of a never-called procedure shows within two scrapes', { timeout: 60_000 }, async () => {
    await using api = await startTestApi();
    await using prometheus = await startPrometheus({
      targets: { 'keelson-api': hostOf(api.metricsUrl) },
      scrapeInterval: `${SCRAPE_MS / 1000}s`,
      ruleFiles: [],
    });
    await zeroSeriesScraped(prometheus);
    const increase = `sum(increase(keelson_trpc_procedure_duration_seconds_count{code="INTERNAL_SERVER_ERROR"}[1m]))`;
    const ratio = errorRatio('1m');
    // Right before: the series is there, at 0, so its first increment is a change Prometheus can see.
    expect(await prometheus.vector(INTERNAL_ERRORS)).toEqual([expect.objectContaining({ value: 0 })]);
    expect(await single(prometheus, increase)).toBe(0);

    await oneInternalError(api);
    const after = performance.now();
    let seen: { increase: number | null; ratio: number | null } = { increase: null, ratio: null };
    await eventually(
      async () => {
        seen = { increase: await single(prometheus, increase), ratio: await single(prometheus, ratio) };
        return (seen.increase ?? 0) > 0 && (seen.ratio ?? 0) > 0;
        // Two scrape intervals, and a second for the queries themselves on a loaded two-core machine.
      },
      2 * SCRAPE_MS + 1_000,
    ).catch(() => {
      throw new Error(`not visible within two scrape intervals: ${JSON.stringify(seen)}`);
    });
    expect(performance.now() - after).toBeLessThanOrEqual(2 * SCRAPE_MS + 1_000);
    // The only call there was failed: the ratio is the whole of it.
    expect(seen.ratio).toBe(1);
  });

  it('one internal error reaches the operators by webhook and by mail', { timeout: 60_000 }, async () => {
    await using smtp = await startSmtpCapture();
    await using webhook = await startWebhookReceiver();
    await using alertmanager = await startAlertmanager(
      localAlertmanagerConfig({ smtpUrl: smtp.url, webhookUrl: webhook.url, route: { group_wait: '1s' } }),
    );
    await using api = await startTestApi();
    // The repository's alerts.yml as it is: KeelsonInternalErrors has no `for` to shorten.
    await using prometheus = await startPrometheus({
      targets: { 'keelson-api': hostOf(api.metricsUrl) },
      alertmanager: alertmanager.host,
    });
    await zeroSeriesScraped(prometheus);
    await oneInternalError(api);

    const isOurs = (a: AlertmanagerNotification['alerts'][number]) =>
      a.labels.alertname === 'KeelsonInternalErrors' && a.labels.procedure === 'catalog.get';
    const notification = await webhook.waitFor(
      (n) => n.status === 'firing' && n.alerts.some((a) => isOurs(a) && a.status === 'firing'),
      40_000,
    );
    expect(notification.receiver).toBe('operators');
    expect(notification.groupLabels).toMatchObject({ alertname: 'KeelsonInternalErrors', procedure: 'catalog.get' });
    const alert = notification.alerts.find(isOurs);
    expect(alert?.labels.severity).toBe('warning');
    expect(alert?.annotations.summary).toBe('catalog.get answered an internal error');

    const mail = await smtp.waitFor(OPERATORS, (m) => m.text.includes('KeelsonInternalErrors'), 20_000);
    expect(mail.text).toContain('catalog.get');
    expect(mail.text).toMatch(/^Subject: .*FIRING.*KeelsonInternalErrors/m);
  });

  it('with no worker, an overdue job fires KeelsonJobQueueStale from the API, and KeelsonWorkerAbsent', {
    timeout: 60_000,
  }, async () => {
    await using api = await startTestApi();
    const product = await createProduct(api.db.url, { priceCents: 500, stock: 1 });
    await sql(
      api.db.url,
      `select graphile_worker.add_job($1, json_build_object('productId', $2::text), run_at => now() - interval '10 minutes')`,
      [STALE_TASK, product.id],
    );
    // The API's own /metrics says so: no worker is needed to see the queue grow old.
    const samples = await eventually(async () => {
      const { samples } = await scrapeMetrics(api.metricsUrl);
      return sampleValue(samples, 'keelson_jobs_queued', { task: STALE_TASK }) === 1 ? samples : null;
    }, 15_000);
    expect(sampleValue(samples, 'keelson_jobs_oldest_queued_age_seconds', { task: STALE_TASK })).toBeGreaterThan(300);
    expect(sampleValue(samples, 'keelson_db_reachable')).toBe(1);

    // The worker's target is a port nobody listens on: a worker that is down.
    const deadWorker = `127.0.0.1:${await freePort()}`;
    await using prometheus = await startPrometheus({
      targets: { 'keelson-api': hostOf(api.metricsUrl), 'keelson-worker': deadWorker },
      rules: shortenedAlertRules({ forDuration: '2s' }),
    });
    const alerts = await eventually(async () => {
      const firing = (await prometheus.alerts()).filter((a) => a.state === 'firing');
      const stale = firing.find((a) => a.labels.alertname === 'KeelsonJobQueueStale' && a.labels.task === STALE_TASK);
      const absent = firing.find((a) => a.labels.alertname === 'KeelsonWorkerAbsent');
      return stale && absent ? { stale, absent } : null;
    }, 30_000);
    expect(Number(alerts.stale.value)).toBeGreaterThan(300);
    expect(alerts.absent.labels.job).toBe('keelson-worker');
    expect(await prometheus.vector('up{job="keelson-worker"}')).toEqual([expect.objectContaining({ value: 0 })]);
  });

  it('an idle API and worker never report waiting pool callers, whether their connections stay or are re-opened', {
    timeout: 60_000,
  }, async () => {
    await using api = await startTestApi();
    await using worker = await startTestWorker({ db: api.db, http: true });
    await using prometheus = await startPrometheus({
      targets: { 'keelson-api': hostOf(api.metricsUrl), 'keelson-worker': hostOf(worker.baseUrl) },
      scrapeInterval: '500ms',
      rules: shortenedAlertRules({ forDuration: '2s', windows: { KeelsonDbPoolSaturated: '10s' } }),
    });
    const saturated: string[] = [];
    const watch = async (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        for (const a of await prometheus.alerts()) {
          if (a.labels.alertname === 'KeelsonDbPoolSaturated') saturated.push(`${a.labels.job} ${a.state} ${a.value}`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    // First the connections stay open: each scrape-time query (every 5 s, cached in between) checks out
    // an idle one, and pg-pool queues that caller until the next tick. The gauge as it was, counting
    // every queued caller, read 1 or 2 here.
    await watch(8_000);
    // Then no connection stays: neither pool has a setting for its idle timeout (pg-pool's default 10 s
    // outlasts the 5 s cache), so the server closes the ORM pools' connections (application_name
    // `keelson` in tests) after a second idle, and each scrape-time query opens a new one.
    let closed = 0;
    let reaping = true;
    const reaper = (async () => {
      while (reaping) {
        const [row] = await sql<{ n: number }>(
          api.db.url,
          `select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
           where datname = current_database() and application_name = 'keelson' and state = 'idle'
             and state_change < now() - interval '1 second' and pid <> pg_backend_pid()`,
        );
        closed += row?.n ?? 0;
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    try {
      await watch(8_000);
    } finally {
      reaping = false;
      await reaper;
    }
    const waiting = await prometheus.vector(
      'max by (job) (max_over_time(keelson_db_pool_connections{state="waiting"}[16s]))',
    );
    expect(Object.fromEntries(waiting.map((s) => [s.metric.job, s.value]))).toEqual({
      'keelson-api': 0,
      'keelson-worker': 0,
    });
    // Both were scraped all along (some 30 times each), not just once.
    const scrapes = await prometheus.vector(
      'max by (job) (count_over_time(keelson_db_pool_connections{state="waiting"}[16s]))',
    );
    expect(scrapes).toHaveLength(2);
    for (const s of scrapes) expect(s.value, s.metric.job).toBeGreaterThanOrEqual(20);
    expect(saturated).toEqual([]);
    // The rule was evaluated (and healthy), so its silence means something.
    const rules = (await (await fetch(`${prometheus.url}/api/v1/rules?type=alert`)).json()) as {
      data: { groups: { rules: { name: string; health: string; state: string }[] }[] };
    };
    const rule = rules.data.groups.flatMap((g) => g.rules).find((r) => r.name === 'KeelsonDbPoolSaturated');
    expect(rule).toMatchObject({ health: 'ok', state: 'inactive' });
    // Connections were indeed closed and re-opened between scrapes in the second half.
    expect(closed).toBeGreaterThanOrEqual(2);
  });

  it('a database the API cannot reach fires KeelsonDatabaseDown, and the scrape still answers', {
    timeout: 60_000,
  }, async () => {
    await using db = await testDatabase();
    await using proxy = await tcpProxy(db.url);
    await using api = await startTestApi({ db: { ...db, url: proxy.url } });
    await using prometheus = await startPrometheus({
      targets: { 'keelson-api': hostOf(api.metricsUrl) },
      rules: shortenedAlertRules({ forDuration: '2s' }),
    });
    await eventually(async () => (await single(prometheus, 'keelson_db_reachable')) === 1, 30_000);
    // Every connection cut, and new ones refused: the database is gone for this API.
    await proxy.close();
    const down = await eventually(async () => {
      const firing = await prometheus.alerts();
      return firing.find((a) => a.labels.alertname === 'KeelsonDatabaseDown' && a.state === 'firing');
    }, 30_000);
    expect(down.labels.severity).toBe('critical');
    expect(await single(prometheus, 'keelson_db_reachable')).toBe(0);
    expect(await single(prometheus, 'up{job="keelson-api"}')).toBe(1);
  });
});
