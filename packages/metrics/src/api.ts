/** The API process's metrics (names and labels are the observability contract: see README "Metrics"). */
import { Counter, Gauge, Histogram } from 'prom-client';
import { activeTraceExemplar } from './exemplars.ts';
import { createProcessMetrics, type ProcessMetrics } from './registry.ts';

/** The route label of a request no route matched: raw URLs would make a series per probe of a scanner. */
export const UNMATCHED_ROUTE = 'unmatched';

export interface HttpObservation {
  method: string;
  /** The route pattern (`/trpc/:path`), never the URL; `UNMATCHED_ROUTE` when none matched. */
  route: string;
  statusCode: number;
  seconds: number;
}

export interface ProcedureObservation {
  /** The procedure's path in the router (`catalog.get`): a fixed set, unlike the HTTP path of a batch. */
  procedure: string;
  type: 'query' | 'mutation' | 'subscription';
  /** `ok`, or the tRPC error code (`NOT_FOUND`). */
  code: string;
  seconds: number;
}

/** What a process's realtime side holds at scrape time. */
export interface RealtimeCounts {
  /** Live subscriptions by kind: outbox-event streams and `dashboard.live` watchers. */
  subscriptions: { events: number; dashboard: number };
  /** WebSockets and SSE streams holding a connection place (see the realtime limits). */
  connections: number;
  /** Whether the process's LISTEN connection is in place (without it, live updates stop). */
  listening: boolean;
}

/** The event topics a process fans out; fixed, so their series exist (at 0) before the first event. */
const REALTIME_TOPICS = ['order', 'stock', 'notification'] as const;

export interface ApiMetrics extends ProcessMetrics {
  observeHttpRequest(o: HttpObservation): void;
  observeProcedure(o: ProcedureObservation): void;
  orderPlaced(): void;
  loginFailed(): void;
  /** Outbox events this process read for its subscribers, with the time each was written. */
  realtimeEventsRead(events: readonly { topic: string; createdAt: Date }[]): void;
  /** Reports the process's subscriptions and connections in `keelson_realtime_*` at scrape time. */
  trackRealtime(source: () => RealtimeCounts): void;
}

export function createApiMetrics(): ApiMetrics {
  const base = createProcessMetrics();
  const registers = [base.registry];
  const http = new Histogram({
    name: 'keelson_http_request_duration_seconds',
    help: 'HTTP requests answered by the API, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    enableExemplars: true,
    registers,
  });
  const procedure = new Histogram({
    name: 'keelson_trpc_procedure_duration_seconds',
    help: 'tRPC procedure calls (each call of a batch on its own), by procedure, type and result code',
    labelNames: ['procedure', 'type', 'code'] as const,
    enableExemplars: true,
    registers,
  });
  const ordersPlaced = new Counter({
    name: 'keelson_orders_placed_total',
    help: 'Orders created by checkout (a retried checkout that returns the same order is not counted again)',
    registers,
  });
  const loginFailures = new Counter({
    name: 'keelson_login_failures_total',
    help: 'Password log-ins refused for invalid credentials (unknown email, wrong password, disabled account)',
    registers,
  });
  const realtimeEvents = new Counter({
    name: 'keelson_realtime_events_total',
    help: 'Outbox events this API process read and fanned out to its subscriptions, by topic',
    labelNames: ['topic'] as const,
    registers,
  });
  for (const topic of REALTIME_TOPICS) realtimeEvents.inc({ topic }, 0);
  const realtimeDelay = new Histogram({
    name: 'keelson_realtime_event_delay_seconds',
    help: 'From an outbox event being written to this API process reading it for its subscribers (commit, sequencing, NOTIFY, read)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  let realtimeSource: (() => RealtimeCounts) | null = null;
  new Gauge({
    name: 'keelson_realtime_subscriptions',
    help: 'Live subscriptions on this API process, by kind (events: outbox streams; dashboard: dashboard.live)',
    labelNames: ['kind'] as const,
    registers,
    collect() {
      const counts = realtimeSource?.().subscriptions ?? { events: 0, dashboard: 0 };
      this.set({ kind: 'events' }, counts.events);
      this.set({ kind: 'dashboard' }, counts.dashboard);
    },
  });
  new Gauge({
    name: 'keelson_realtime_connections',
    help: 'WebSockets and SSE streams holding a place under the realtime connection limits on this API process',
    registers,
    collect() {
      this.set(realtimeSource?.().connections ?? 0);
    },
  });
  new Gauge({
    name: 'keelson_realtime_listener_up',
    help: "1 while this API process's LISTEN connection (realtime events, catalogue cache) is in place, 0 while it reconnects",
    registers,
    collect() {
      this.set(realtimeSource?.().listening ? 1 : 0);
    },
  });
  return {
    ...base,
    realtimeEventsRead: (events) => {
      const now = Date.now();
      for (const e of events) {
        realtimeEvents.inc({ topic: e.topic });
        // A clock step between the writer's database and this host could make it negative.
        realtimeDelay.observe(Math.max(0, (now - e.createdAt.getTime()) / 1000));
      }
    },
    trackRealtime: (source) => {
      realtimeSource = source;
    },
    observeHttpRequest: (o) =>
      http.observe({
        labels: { method: o.method, route: o.route, status_code: String(o.statusCode) },
        value: o.seconds,
        exemplarLabels: activeTraceExemplar(),
      }),
    observeProcedure: (o) =>
      procedure.observe({
        labels: { procedure: o.procedure, type: o.type, code: o.code },
        value: o.seconds,
        exemplarLabels: activeTraceExemplar(),
      }),
    orderPlaced: () => ordersPlaced.inc(),
    loginFailed: () => loginFailures.inc(),
  };
}
