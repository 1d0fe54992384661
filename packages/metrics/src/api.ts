/** The API process's metrics (names and labels are the observability contract: see README "Metrics"). */
import { Counter, Histogram } from 'prom-client';
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

export interface ApiMetrics extends ProcessMetrics {
  observeHttpRequest(o: HttpObservation): void;
  observeProcedure(o: ProcedureObservation): void;
  orderPlaced(): void;
  loginFailed(): void;
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
  return {
    ...base,
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
