/**
 * Grafana is not installable here, so its provisioning is checked for what Grafana itself would reject
 * or silently render empty: the dashboard JSON's structure, data source uids that exist, exemplars on
 * latency panels, and every metric of the contract on some panel. Whether each query returns data is
 * grafana.dashboard.truth.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  allPanels,
  dashboardFile,
  dashboardQueries,
  exists,
  readDashboard,
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

  it('aggregates the shared-queue gauges with max: every worker replica reports the same queue', () => {
    const shared = /keelson_jobs_(queued|oldest_queued_age_seconds|locked|failed_permanently)\b/;
    const exprs = dataPanels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).filter((e) => shared.test(e));
    expect(exprs.length).toBeGreaterThanOrEqual(4);
    for (const e of exprs) expect(e).toMatch(/^max by \(task\) \(keelson_jobs_/);
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
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
    ];
    for (const metric of contract) {
      expect(
        exprs.some((e) => new RegExp(`\\b${metric}(_bucket|_count|_sum)?\\b`).test(e)),
        metric,
      ).toBe(true);
    }
  });
});
