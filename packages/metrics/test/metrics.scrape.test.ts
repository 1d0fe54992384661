import { AsyncLocalStorage } from 'node:async_hooks';
import { type Context, type ContextManager, context, ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiMetrics, traceparentExemplar, wantsOpenMetrics } from '../src/index.ts';

const OPENMETRICS = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

/** What the OpenTelemetry SDK registers when tracing is on: an active context per async call chain. */
class TestContextManager implements ContextManager {
  private storage = new AsyncLocalStorage<Context>();
  active = () => this.storage.getStore() ?? ROOT_CONTEXT;
  // biome-ignore lint/complexity/useMaxParams: the signature is OpenTelemetry's ContextManager.with
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.storage.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind = <T>(_ctx: Context, target: T) => target;
  enable = () => this;
  disable = () => this;
}

describe('scrape format and exemplars', () => {
  beforeAll(() => void context.setGlobalContextManager(new TestContextManager()));
  afterAll(() => context.disable());

  it('serves OpenMetrics only to a scraper that prefers it', () => {
    expect(wantsOpenMetrics(undefined)).toBe(false);
    expect(wantsOpenMetrics('text/plain;version=0.0.4')).toBe(false);
    expect(wantsOpenMetrics('*/*')).toBe(false);
    expect(wantsOpenMetrics(OPENMETRICS)).toBe(true);
    expect(wantsOpenMetrics('application/openmetrics-text;q=0.2,text/plain;q=0.9')).toBe(false);
    expect(wantsOpenMetrics('application/openmetrics-text;q=0')).toBe(false);
  });

  it('attaches the trace id of a sampled active span as an exemplar, in OpenMetrics only', async () => {
    const metrics = createApiMetrics();
    const sampled = trace.wrapSpanContext({
      traceId: TRACE_ID,
      spanId: '00f067aa0ba902b7',
      traceFlags: TraceFlags.SAMPLED,
    });
    context.with(trace.setSpan(context.active(), sampled), () =>
      metrics.observeProcedure({ procedure: 'catalog.get', type: 'query', code: 'ok', seconds: 0.003 }),
    );
    // With no span (tracing off) and with an unsampled one: observed, no exemplar.
    metrics.observeProcedure({ procedure: 'catalog.list', type: 'query', code: 'ok', seconds: 0.003 });
    const unsampled = trace.wrapSpanContext({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 0 });
    context.with(trace.setSpan(context.active(), unsampled), () =>
      metrics.observeProcedure({ procedure: 'cart.get', type: 'query', code: 'ok', seconds: 0.003 }),
    );

    const open = await metrics.scrape(OPENMETRICS);
    expect(open.contentType).toMatch(/^application\/openmetrics-text/);
    expect(open.body).toMatch(
      new RegExp(
        `^keelson_trpc_procedure_duration_seconds_bucket\\{le="0.005",procedure="catalog.get",type="query",code="ok"\\} 1 # \\{trace_id="${TRACE_ID}"\\} 0.003 \\d+`,
        'm',
      ),
    );
    expect(open.body.match(/# \{trace_id=/g)).toHaveLength(1);
    expect(open.body.endsWith('# EOF\n')).toBe(true);

    const text = await metrics.scrape(undefined);
    expect(text.contentType).toMatch(/^text\/plain; version=0.0.4/);
    expect(text.body).not.toContain('trace_id');
  });

  it('keeps the _total of counters in the Prometheus format after an OpenMetrics scrape', async () => {
    const metrics = createApiMetrics();
    metrics.orderPlaced();
    const [first, open, second] = await Promise.all([
      metrics.scrape(undefined),
      metrics.scrape(OPENMETRICS),
      metrics.scrape(undefined),
    ]);
    for (const { body } of [first, second]) {
      expect(body).toMatch(/^# TYPE keelson_orders_placed_total counter$/m);
      expect(body).toMatch(/^keelson_orders_placed_total 1$/m);
    }
    expect(open.body).toMatch(/^# TYPE keelson_orders_placed counter$/m);
    expect(open.body).toMatch(/^keelson_orders_placed_total 1$/m);
  });

  it('reads the trace id of a sampled traceparent only', () => {
    expect(traceparentExemplar(`00-${TRACE_ID}-00f067aa0ba902b7-01`)).toEqual({ trace_id: TRACE_ID });
    expect(traceparentExemplar(`00-${TRACE_ID}-00f067aa0ba902b7-00`)).toEqual({});
    expect(traceparentExemplar(`00-${'0'.repeat(32)}-00f067aa0ba902b7-01`)).toEqual({});
    expect(traceparentExemplar(undefined)).toEqual({});
  });

  it('sums the pools it tracks by state, leaving out one that cannot be read', async () => {
    const metrics = createApiMetrics();
    metrics.trackPool(() => ({ totalCount: 5, idleCount: 2, waitingCount: 3 }));
    metrics.trackPool(async () => ({ totalCount: 3, idleCount: 3, waitingCount: 0 }));
    metrics.trackPool(async () => {
      throw new Error('connect ECONNREFUSED');
    });
    const { body } = await metrics.scrape(undefined);
    expect(body).toMatch(/^keelson_db_pool_connections\{state="in_use"\} 3$/m);
    expect(body).toMatch(/^keelson_db_pool_connections\{state="idle"\} 5$/m);
    expect(body).toMatch(/^keelson_db_pool_connections\{state="waiting"\} 1$/m);
  });

  it('counts as waiting only the callers of a pool at its maximum that no idle connection will serve', async () => {
    const metrics = createApiMetrics();
    // pg-pool queues a caller it is handing an idle connection until its next tick: an idle process's
    // scrape-time query looked like saturation at every scrape.
    metrics.trackPool(() => ({ totalCount: 2, idleCount: 2, waitingCount: 1, options: { max: 10 } }));
    // Below its maximum, two callers queued for one idle connection: the second gets a new one next tick.
    metrics.trackPool(() => ({ totalCount: 1, idleCount: 1, waitingCount: 2, options: { max: 10 } }));
    metrics.trackPool(() => ({ totalCount: 4, idleCount: 1, waitingCount: 3, options: { max: 4 } }));
    const { body } = await metrics.scrape(undefined);
    expect(body).toMatch(/^keelson_db_pool_connections\{state="idle"\} 4$/m);
    expect(body).toMatch(/^keelson_db_pool_connections\{state="waiting"\} 2$/m);
  });
});
