/** The API process's metrics (names and labels are the observability contract: see docs/observability.md, "Metrics"). */
import { Counter, Gauge, Histogram } from 'prom-client';
import { activeTraceExemplar } from './exemplars.ts';
import { type QueueGaugeOptions, queueGauges } from './queue.ts';
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
const REALTIME_TOPICS = ['order', 'stock', 'notification', 'chat'] as const;

export interface ApiMetrics extends ProcessMetrics {
  observeHttpRequest(o: HttpObservation): void;
  observeProcedure(o: ProcedureObservation): void;
  /**
   * Creates every procedure × code series at 0. A labelled series is otherwise born at its first
   * observation, and `rate()`/`increase()` need two samples of it: the first failure of a procedure
   * would never show on a dashboard or in an alert, only the second.
   */
  declareProcedures(
    procedures: readonly { procedure: string; type: ProcedureObservation['type'] }[],
    codes: readonly string[],
  ): void;
  orderPlaced(): void;
  loginFailed(): void;
  /** Outbox events this process read for its subscribers, with the time each was written. */
  realtimeEventsRead(events: readonly { topic: string; createdAt: Date }[]): void;
  /** Reports the process's subscriptions and connections in `keelson_realtime_*` at scrape time. */
  trackRealtime(source: () => RealtimeCounts): void;
  /** A support-chat message was sent, by the customer or the staff. */
  chatMessageSent(role: 'customer' | 'staff'): void;
  /**
   * Reads the chat's open conversations and oldest unanswered wait at scrape time (a database query,
   * at most once per `cacheMs`, default 5 s, however many scrapers).
   */
  trackChat(source: () => Promise<{ open: number; oldestUnansweredSeconds: number }>, cacheMs?: number): void;
  /** Adds the job-queue gauges and `keelson_db_reachable`, read as the worker reads them (see queue.ts). */
  trackQueue(opts: QueueGaugeOptions): void;
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
  const chatMessages = new Counter({
    name: 'keelson_chat_messages_total',
    help: 'Support-chat messages sent through this API process, by author role',
    labelNames: ['role'] as const,
    registers,
  });
  for (const role of ['customer', 'staff']) chatMessages.inc({ role }, 0);
  const chatDelay = new Histogram({
    name: 'keelson_chat_delivery_delay_seconds',
    help: 'From a support-chat event being written to this API process reading it for its subscribers',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  let chatSource: (() => Promise<{ open: number; oldestUnansweredSeconds: number }>) | null = null;
  let chatCacheMs = 5_000;
  let chatCached: { at: number; value: Promise<{ open: number; oldestUnansweredSeconds: number } | null> } | null =
    null;
  const chatGauges = () => {
    if (!chatSource) return Promise.resolve(null);
    if (chatCached && Date.now() - chatCached.at < chatCacheMs) return chatCached.value;
    // A failed read (the database away) leaves the gauges absent rather than a false 0.
    const value = chatSource().catch(() => null);
    chatCached = { at: Date.now(), value };
    return value;
  };
  new Gauge({
    name: 'keelson_chat_open_conversations',
    help: 'Support conversations open (the same figure on every API process: read from the database)',
    registers,
    async collect() {
      const g = await chatGauges();
      this.reset();
      if (g) this.set(g.open);
    },
  });
  new Gauge({
    name: 'keelson_chat_oldest_unanswered_seconds',
    help: 'How long the customer of the longest-waiting open conversation has waited for a staff reply (0 when none waits)',
    registers,
    async collect() {
      const g = await chatGauges();
      this.reset();
      if (g) this.set(g.oldestUnansweredSeconds);
    },
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
        const seconds = Math.max(0, (now - e.createdAt.getTime()) / 1000);
        realtimeDelay.observe(seconds);
        if (e.topic === 'chat') chatDelay.observe(seconds);
      }
    },
    chatMessageSent: (role) => chatMessages.inc({ role }),
    trackChat: (source, cacheMs = 5_000) => {
      chatSource = source;
      chatCacheMs = cacheMs;
      chatCached = null;
    },
    trackQueue: (opts) => queueGauges(registers, opts),
    trackRealtime: (source) => {
      realtimeSource = source;
    },
    observeHttpRequest: (o) =>
      http.observe({
        labels: { method: o.method, route: o.route, status_code: String(o.statusCode) },
        value: o.seconds,
        exemplarLabels: activeTraceExemplar(),
      }),
    declareProcedures: (procedures, codes) => {
      for (const { procedure: name, type } of procedures) {
        for (const code of codes) procedure.zero({ procedure: name, type, code });
      }
    },
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
