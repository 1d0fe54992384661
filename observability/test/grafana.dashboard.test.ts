/**
 * Grafana is not installable here, so its provisioning is checked for what Grafana itself would reject
 * or silently render empty: the dashboard JSON's structure, data source uids that exist, exemplars on
 * latency panels, and every metric of the contract on some panel. Whether each query returns data is
 * grafana.dashboard.truth.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  allPanels,
  type Dashboard,
  type DashboardPanel,
  dashboardFile,
  dashboardQueries,
  exists,
  readDashboard,
  readText,
  readYaml,
  substituteVariables,
} from './files.ts';

interface Datasource {
  name: string;
  uid: string;
  type: string;
  url: string;
  jsonData?: { exemplarTraceIdDestinations?: { name: string; datasourceUid: string }[] };
}

const datasources = () =>
  readYaml<{ datasources: Datasource[] }>('observability/grafana/provisioning/datasources/datasources.yml').datasources;

/** The server-side tRPC codes (5xx), as KeelsonHighErrorRatio counts them. */
const SERVER_CODES = 'INTERNAL_SERVER_ERROR|NOT_IMPLEMENTED|BAD_GATEWAY|SERVICE_UNAVAILABLE|GATEWAY_TIMEOUT';

/** The part of a panel's field config these tests read (files.ts leaves it out). */
const unitOf = (p: DashboardPanel) =>
  (p as DashboardPanel & { fieldConfig?: { defaults?: { unit?: string } } }).fieldConfig?.defaults?.unit;

const exprsOf = (p: DashboardPanel) => (p.targets ?? []).map((t) => t.expr);

/**
 * The Grafana units an expression's values can be drawn in: durations in seconds, byte sizes in bytes,
 * ratios (a division, or CPU seconds per second) as percentages, per-second rates as per-second
 * throughput, `* 60` rates as per-minute, and anything else (gauges of things, 0/1 states) as a count.
 */
function unitsFor(expr: string, panelType: string): string[] {
  if (panelType === 'heatmap' || expr.startsWith('histogram_quantile(')) return ['s'];
  if (/rate\(\w+_seconds_total\b/.test(expr) || / \/ /.test(expr)) return ['percentunit'];
  if (/_bytes\b/.test(expr)) return ['bytes'];
  if (/\brate\(/.test(expr)) return /\* 60$/.test(expr) ? ['cpm', 'opm'] : ['reqps', 'ops', 'cps'];
  if (/_seconds\b/.test(expr)) return ['s'];
  return ['short'];
}

/** Per-process metrics: each process reports its own figure, which the `instance` selector narrows. */
const PER_PROCESS =
  /\b(process_\w+|nodejs_\w+|keelson_db_pool_connections|keelson_db_reachable|keelson_realtime_\w+|up)\{/;

describe('grafana provisioning', () => {
  it('provisions Prometheus (default, exemplar trace ids linked to Tempo) and Tempo', () => {
    const list = datasources();
    const prometheus = list.find((d) => d.type === 'prometheus');
    const tempo = list.find((d) => d.type === 'tempo');
    expect(prometheus?.url).toBe('http://prometheus:9090');
    expect(tempo?.url).toMatch(/^http:\/\/tempo:\d+$/);
    const links = prometheus?.jsonData?.exemplarTraceIdDestinations ?? [];
    expect(links).toEqual([{ name: 'trace_id', datasourceUid: tempo?.uid }]);
  });

  it('loads the dashboards folder that docker compose mounts', () => {
    const providers = readYaml<{ providers: { type: string; folder: string; options: { path: string } }[] }>(
      'observability/grafana/provisioning/dashboards/dashboards.yml',
    ).providers;
    expect(providers).toHaveLength(1);
    expect(providers[0]?.type).toBe('file');
    const grafana = readYaml<{ services: Record<string, { volumes: string[] }> }>('docker-compose.yml').services
      .grafana;
    expect(grafana?.volumes).toContain(`./observability/grafana/dashboards:${providers[0]?.options.path}:ro`);
    expect(exists(dashboardFile)).toBe(true);
  });
});

describe('keelson.json', () => {
  const dashboard = readDashboard();
  const panels = allPanels(dashboard);
  const dataPanels = panels.filter((p) => p.type !== 'row');

  it('is a dashboard Grafana can load: uid, title, schema version, unique panel ids, a 24-column grid', () => {
    expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      const { x, y, w, h } = p.gridPos;
      expect(Number.isInteger(x) && Number.isInteger(y) && w > 0 && h > 0, p.title).toBe(true);
      expect(x + w, p.title).toBeLessThanOrEqual(24);
    }
    // Overlapping panels are pushed around by Grafana, which reorders the layout.
    for (const [i, a] of panels.entries()) {
      for (const b of panels.slice(i + 1)) {
        const overlap =
          a.gridPos.x < b.gridPos.x + b.gridPos.w &&
          b.gridPos.x < a.gridPos.x + a.gridPos.w &&
          a.gridPos.y < b.gridPos.y + b.gridPos.h &&
          b.gridPos.y < a.gridPos.y + a.gridPos.h;
        expect(overlap, `${a.title} overlaps ${b.title}`).toBe(false);
      }
    }
  });

  it('every data panel has a known type, a description, a provisioned data source and PromQL targets', () => {
    const uids = new Set(datasources().map((d) => d.uid));
    for (const p of dataPanels) {
      expect(['timeseries', 'heatmap', 'stat', 'gauge', 'bargauge', 'table'], p.title).toContain(p.type);
      expect(p.description, p.title).toBeTruthy();
      expect(uids.has(p.datasource?.uid ?? ''), `${p.title}: data source ${p.datasource?.uid}`).toBe(true);
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      const refIds = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size, p.title).toBe(refIds.length);
      for (const t of p.targets ?? []) {
        expect(t.expr.trim(), p.title).not.toBe('');
        expect(uids.has(t.datasource?.uid ?? ''), p.title).toBe(true);
      }
    }
  });

  it('every Grafana variable in a query is one the dashboard or Grafana defines', () => {
    for (const q of dashboardQueries(dashboard)) {
      expect(q.expr, q.panel).not.toMatch(/\$/);
    }
    expect(() => substituteVariables('rate(x[$nope])', dashboard)).toThrow(/unknown Grafana variable/);
  });

  it('latency panels show exemplars (the link from a slow bucket to its trace)', () => {
    // The histograms observed inside a request or job carry its trace id; the realtime delay (an event
    // read by a LISTEN callback, in no trace) has none to show.
    const traced = /(trpc_procedure|http_request|job)_duration_seconds_bucket\b/;
    const latency = dataPanels.filter((p) => (p.targets ?? []).some((t) => traced.test(t.expr)));
    expect(latency.length).toBeGreaterThanOrEqual(3);
    for (const p of latency) {
      for (const t of (p.targets ?? []).filter((t) => traced.test(t.expr))) {
        expect(t.exemplar, `${p.title} ${t.refId}`).toBe(true);
      }
    }
    const heatmap = dataPanels.find((p) => p.type === 'heatmap');
    expect(heatmap?.targets?.[0]?.format).toBe('heatmap');
  });

  it('aggregates the shared-queue gauges with max: every API and worker process reports the same queue', () => {
    const shared = /keelson_jobs_(queued|oldest_queued_age_seconds|locked|failed_permanently)\b/;
    const exprs = dataPanels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).filter((e) => shared.test(e));
    expect(exprs.length).toBeGreaterThanOrEqual(4);
    for (const e of exprs) {
      expect(e).toMatch(/^max by \(task\) \(keelson_jobs_/);
      // One database's figure: narrowing it to an instance would hide it when that process is away.
      expect(e).not.toMatch(/\$instance/);
    }
  });

  it('shows RED per procedure with p50/p95/p99, and every metric of the contract somewhere', () => {
    const exprs = dataPanels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    for (const q of ['0.5', '0.95', '0.99']) {
      expect(exprs.some((e) => e.startsWith(`histogram_quantile(${q}, sum by (procedure, le)`))).toBe(true);
    }
    const contract = [
      'keelson_trpc_procedure_duration_seconds',
      'keelson_http_request_duration_seconds',
      'keelson_orders_placed_total',
      'keelson_login_failures_total',
      'keelson_db_pool_connections',
      'keelson_jobs_completed_total',
      'keelson_jobs_failed_total',
      'keelson_job_duration_seconds',
      'keelson_jobs_queued',
      'keelson_jobs_oldest_queued_age_seconds',
      'keelson_jobs_locked',
      'keelson_jobs_failed_permanently',
      'keelson_payments_failed_total',
      'keelson_realtime_subscriptions',
      'keelson_realtime_connections',
      'keelson_realtime_listener_up',
      'keelson_realtime_events_total',
      'keelson_realtime_event_delay_seconds',
      'keelson_chat_messages_total',
      'keelson_chat_delivery_delay_seconds',
      'keelson_chat_open_conversations',
      'keelson_chat_oldest_unanswered_seconds',
      'keelson_db_reachable',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
      'process_resident_memory_bytes',
    ];
    for (const metric of contract) {
      expect(
        exprs.some((e) => new RegExp(`\\b${metric}(_bucket|_count|_sum)?\\b`).test(e)),
        metric,
      ).toBe(true);
    }
  });
  it('has a row per service, each with its golden signals positioned under it', () => {
    // Top-level rows (not collapsed) own the panels that follow them down to the next row.
    const top = dashboard.panels;
    for (const [i, p] of top.entries()) {
      if (i > 0) expect(p.gridPos.y, p.title).toBeGreaterThanOrEqual(top[i - 1]?.gridPos.y ?? 0);
    }
    const rows = top.filter((p) => p.type === 'row');
    const sections = new Map(
      rows.map((row, i) => {
        const next = rows[i + 1]?.gridPos.y ?? Number.POSITIVE_INFINITY;
        const under = top.filter((p) => p.type !== 'row' && p.gridPos.y > row.gridPos.y && p.gridPos.y < next);
        return [row.title, under];
      }),
    );
    const golden: Record<string, RegExp[]> = {
      API: [
        /rate\(keelson_trpc_procedure_duration_seconds_count/,
        /keelson_trpc_procedure_duration_seconds_count\{[^}]*code=~"INTERNAL_SERVER_ERROR/,
        /histogram_quantile\(0\.95, sum by \(procedure, le\)/,
        /nodejs_eventloop_lag_p99_seconds\{job="keelson-api"/,
      ],
      Worker: [
        /keelson_jobs_completed_total/,
        /keelson_jobs_failed_total/,
        /outcome="failure"[^/]*\) \/ /,
        /keelson_job_duration_seconds_bucket/,
        /keelson_jobs_queued/,
        /keelson_jobs_oldest_queued_age_seconds/,
        /keelson_jobs_failed_permanently/,
      ],
      'Database pool': [/keelson_db_pool_connections\{/, /keelson_db_reachable\{/],
      Realtime: [
        /keelson_realtime_subscriptions/,
        /keelson_realtime_connections/,
        /rate\(keelson_realtime_events_total/,
        /keelson_realtime_event_delay_seconds_bucket/,
        /keelson_realtime_listener_up/,
      ],
    };
    for (const [service, signals] of Object.entries(golden)) {
      const under = sections.get(service);
      expect(under?.length, `row ${service}`).toBeGreaterThan(0);
      const exprs = (under ?? []).flatMap(exprsOf);
      for (const signal of signals)
        expect(
          exprs.some((e) => signal.test(e)),
          `${service}: ${signal}`,
        ).toBe(true);
    }
  });

  it('every panel has a unit, and the one its queries are measured in', () => {
    for (const p of dataPanels) {
      const unit = unitOf(p);
      expect(unit, p.title).toBeTruthy();
      // A panel drawing a duration and a rate on one axis has no right unit: each is its own panel.
      for (const expr of exprsOf(p)) expect(unitsFor(expr, p.type), `${p.title}: ${expr}`).toContain(unit);
    }
    const events = dataPanels.filter((p) => exprsOf(p).some((e) => /rate\(keelson_realtime_events_total/.test(e)));
    expect(events.map(unitOf)).toEqual(['ops']);
  });

  it('has an instance selector (every scraped process, multi, All) that the per-process panels use', () => {
    type Variable = Dashboard['templating']['list'][number] & { multi?: boolean; includeAll?: boolean };
    const variables = dashboard.templating.list as Variable[];
    const instance = variables.find((v) => v.name === 'instance');
    expect(instance?.type).toBe('query');
    expect(instance?.query).toMatchObject({
      query: 'label_values(up{job=~"keelson-api|keelson-worker"}, instance)',
    });
    expect(instance?.multi).toBe(true);
    expect(instance?.includeAll).toBe(true);
    expect(instance?.allValue).toBe('.*');
    // The procedure selector still narrows the procedure panels.
    expect(variables.map((v) => v.name)).toEqual(expect.arrayContaining(['procedure', 'task', 'instance']));
    const perProcess = dataPanels.flatMap(exprsOf).filter((e) => PER_PROCESS.test(e));
    expect(perProcess.length).toBeGreaterThanOrEqual(10);
    for (const e of perProcess) expect(e).toMatch(/instance=~"\$instance"/);
    const procedure = dataPanels.flatMap(exprsOf).filter((e) => e.includes('keelson_trpc_procedure_duration_seconds'));
    expect(procedure.filter((e) => e.includes('procedure=~"$procedure"')).length).toBeGreaterThanOrEqual(8);
    // RSS beside the heap, per process.
    const memory = dataPanels.find((p) => exprsOf(p).some((e) => e.includes('process_resident_memory_bytes')));
    expect(exprsOf(memory as DashboardPanel).some((e) => e.includes('nodejs_heap_size_used_bytes'))).toBe(true);
    expect(exprsOf(memory as DashboardPanel).every((e) => e.startsWith('sum by (job, instance)'))).toBe(true);
  });

  it('counts errors per call (procedure codes), and labels HTTP status panels as HTTP-level', () => {
    // A batch answered 207 holding a failed call is an error of that call, whatever the HTTP status.
    const serverErrors = dataPanels.filter((p) =>
      exprsOf(p).some((e) =>
        e.includes(`keelson_trpc_procedure_duration_seconds_count{procedure=~"$procedure", code=~"${SERVER_CODES}"}`),
      ),
    );
    expect(serverErrors.map((p) => p.title)).toEqual(
      expect.arrayContaining(['Server-error share of calls', 'Server errors by procedure']),
    );
    for (const p of serverErrors) expect(p.description, p.title).toMatch(/per call/);
    const http = dataPanels.filter((p) => exprsOf(p).some((e) => e.includes('keelson_http_request_duration_seconds')));
    expect(http.length).toBeGreaterThan(0);
    for (const p of http) expect(p.title, p.title).toMatch(/^HTTP-level: /);
  });
  it("docs/observability.md's Dashboard table lists every panel, in order, under its row", () => {
    const doc = readText('docs/observability.md');
    const section = doc.slice(
      doc.indexOf('\n## Dashboard\n'),
      doc.indexOf('\n## ', doc.indexOf('\n## Dashboard\n') + 1),
    );
    const documented = section
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| row ') && !l.startsWith('| ---'))
      .map((l) => l.split('|').map((c) => c.trim()))
      .map(([, row, panel]) => `${row} / ${panel}`);
    let row = '';
    const actual = dashboard.panels.flatMap((p) => {
      if (p.type === 'row') {
        row = p.title;
        return [];
      }
      return [`${row} / ${p.title}`];
    });
    expect(documented).toEqual(actual);
  });
});
