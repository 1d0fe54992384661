/**
 * One trace from a tRPC call to the job it caused. The API and the worker run in this process and share
 * one in-memory tracer provider. Tracing starts before anything imports `pg` or `fastify` (the app is
 * imported with `await import()` below): instrumentation patches modules as they load.
 */
import { Writable } from 'node:stream';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestTelemetry } from '../src/testing.ts';

const telemetry = startTestTelemetry();
const { seed } = await import('@keelson/db');
const { createLogger, withLogFields } = await import('@keelson/runtime');
const { eventually, startSmtpCapture, startTestApi, startTestWorker } = await import('@keelson/testing');

type TestApi = Awaited<ReturnType<typeof startTestApi>>;

const spans = () => telemetry.exporter.getFinishedSpans();
const named = (name: string) => spans().filter((s) => s.name === name);
const isSql = (s: ReadableSpan) =>
  s.attributes['db.system.name'] === 'postgresql' || s.attributes['db.system'] === 'postgresql';
const parentId = (s: ReadableSpan) => s.parentSpanContext?.spanId;

/** Every span under `root` in the finished spans, root included. */
function subtree(root: ReadableSpan): ReadableSpan[] {
  const all = spans();
  const found = [root];
  for (let i = 0; i < found.length; i++) {
    found.push(...all.filter((s) => parentId(s) === found[i]!.spanContext().spanId));
  }
  return found;
}

describe('tracing', () => {
  let api: TestApi;
  let worker: AsyncDisposable & { stop(): Promise<void> };
  let smtp: Awaited<ReturnType<typeof startSmtpCapture>>;
  let productId: string;

  beforeAll(async () => {
    smtp = await startSmtpCapture();
    api = await startTestApi();
    await seed(api.orm.em.fork(), {});
    productId = (await api.client.catalog.get.query({ slug: 'oak-mug' })).id;
    worker = await startTestWorker({ db: api.db, config: { SMTP_URL: smtp.url } });
  });
  afterAll(async () => {
    await worker?.stop();
    await api?.close();
    await smtp?.close();
    await telemetry.shutdown();
  });
  beforeEach(() => telemetry.exporter.reset());

  it('follows a mutation from the HTTP request through SQL and the enqueued job to the job’s own SQL', async () => {
    await api.client.catalog.recordView.mutate({ id: productId });
    // Finished spans only reach the exporter, so the job's span there means the job is done.
    const job = await eventually(async () => named('process catalog__refresh_view_count')[0]);

    const [procedure] = named('trpc catalog.recordView');
    expect(procedure).toBeDefined();
    expect(procedure!.attributes).toMatchObject({
      'rpc.system': 'trpc',
      'rpc.method': 'catalog.recordView',
      'rpc.trpc.type': 'mutation',
    });
    const traceId = procedure!.spanContext().traceId;

    // The HTTP server span (instrumentation-http) is the root, named by the route; nothing repeats it
    // between it and the procedure.
    const httpServer = spans().find(
      (s) => s.kind === SpanKind.SERVER && s.instrumentationScope.name === '@opentelemetry/instrumentation-http',
    );
    expect(httpServer?.name).toBe('POST /trpc/:path');
    expect(httpServer?.attributes['http.route']).toBe('/trpc/:path');
    expect(httpServer!.spanContext().traceId).toBe(traceId);
    expect(parentId(httpServer!)).toBeUndefined();
    expect(parentId(procedure!)).toBe(httpServer!.spanContext().spanId);
    expect(named('request')).toEqual([]);

    // The request's SQL (insert of the view, add_job) hangs under the procedure.
    const requestSql = subtree(procedure!).filter(isSql);
    expect(requestSql.length).toBeGreaterThan(0);
    expect(
      requestSql.some((s) => String(s.attributes['db.query.text'] ?? s.attributes['db.statement']).includes('add_job')),
    ).toBe(true);

    // The job continues the same trace, with SQL of its own.
    expect(job.spanContext().traceId).toBe(traceId);
    expect(job.attributes).toMatchObject({ 'job.task': 'catalog__refresh_view_count', 'job.attempt': 1 });
    expect(subtree(job).filter(isSql).length).toBeGreaterThan(0);
    expect(subtree(httpServer!).map((s) => s.spanContext().spanId)).toContain(job.spanContext().spanId);
  });

  it('shows the email a sign-up sends in the sign-up’s trace, under the job that sent it', async () => {
    const credentials = { email: 'traced@example.test', password: 'a long enough passphrase' };
    await api.client.auth.signUp.mutate({ ...credentials, name: 'Ada' });
    const job = await eventually(async () => named('process email__verify_address')[0]);
    const [procedure] = named('trpc auth.signUp');
    expect(job.spanContext().traceId).toBe(procedure!.spanContext().traceId);
    const send = subtree(job).find((s) => s.name === 'email send');
    expect(send?.attributes['email.transport']).toBe('smtp');
    expect(send?.kind).toBe(SpanKind.CLIENT);
    expect(JSON.stringify(send?.attributes)).not.toContain('traced@example.test');

    // Once authenticated, the procedure's span names the user.
    const { user, token } = await api.client.auth.logIn.mutate(credentials);
    expect(user.email).toBe('traced@example.test');
    await api.newClient({ token: () => token }).cart.get.query();
    expect(named('trpc cart.get')[0]?.attributes['enduser.id']).toBe(user.id);
  });

  it('makes one procedure span per call of an HTTP batch', async () => {
    await Promise.all([
      api.client.catalog.get.query({ slug: 'oak-mug' }),
      api.client.catalog.list.query({ limit: 2 }),
      api.client.catalog.get.query({ slug: 'no-such-product' }).catch(() => null),
    ]);
    const procedures = spans().filter((s) => s.attributes['rpc.system'] === 'trpc');
    expect(procedures.map((s) => s.name).sort()).toEqual(['trpc catalog.get', 'trpc catalog.get', 'trpc catalog.list']);
    // One HTTP request, so one trace.
    expect(new Set(procedures.map((s) => s.spanContext().traceId)).size).toBe(1);
    const failed = procedures.find((s) => s.attributes['rpc.trpc.error_code']);
    expect(failed?.attributes['rpc.trpc.error_code']).toBe('NOT_FOUND');
    expect(failed?.status.code).toBe(SpanStatusCode.ERROR);
  });

  it("keeps query inputs and tokens out of the HTTP span's url.query", async () => {
    await api.client.catalog.list.query({ q: 'ada@example.com', limit: 2 });
    await fetch(`${api.baseUrl}/reset-password?token=a-live-reset-token`, { headers: { accept: 'text/html' } });
    const server = spans().filter((s) => s.kind === SpanKind.SERVER && s.attributes['url.query'] !== undefined);
    expect(server.length).toBeGreaterThanOrEqual(2);
    const queries = server.map((s) => String(s.attributes['url.query']));
    expect(queries.join(' ')).not.toMatch(/ada|example\.com|a-live-reset-token/);
    expect(queries).toContain('token=REDACTED');
  });

  it('gives the request span the status the client got, with error.type, and names SQL spans by operation and table', async () => {
    const statusOf = async (path: string, init?: RequestInit) => {
      telemetry.exporter.reset();
      const res = await fetch(`${api.baseUrl}${path}`, init);
      await res.arrayBuffer();
      const server = await eventually(async () =>
        spans().find(
          (s) => s.kind === SpanKind.SERVER && s.instrumentationScope.name === '@opentelemetry/instrumentation-http',
        ),
      );
      return { status: res.status, request: server, server };
    };
    const input = (v: unknown) => `?input=${encodeURIComponent(JSON.stringify({ json: v }))}`;
    for (const [path, expected, errorType] of [
      [`/trpc/catalog.get${input({ slug: 'oak-mug' })}`, 200, undefined],
      [`/trpc/catalog.get${input({ slug: 'no-such-thing' })}`, 404, undefined],
      [`/trpc/catalog.get${input({ slug: 42 })}`, 400, undefined],
      ['/trpc/cart.get', 401, undefined],
      // A batch with a failed call answers 207: HTTP-wise a success; the call's own span has the error.
      [
        `/trpc/catalog.get,catalog.get?batch=1&input=${encodeURIComponent(JSON.stringify({ 0: { json: { slug: 'oak-mug' } }, 1: { json: { slug: 'none' } } }))}`,
        207,
        undefined,
      ],
    ] as const) {
      const { status, request, server } = await statusOf(path);
      expect(status, path).toBe(expected);
      expect(request.attributes['http.response.status_code'], path).toBe(expected);
      expect(server?.attributes['http.response.status_code'], path).toBe(expected);
      expect(request.attributes['error.type'], path).toBe(errorType);
      // The URL's query (a GET's input) is never in a span.
      expect(String(request.attributes['url.path']), path).not.toContain('?');
    }
    // An internal error: this file's database loses the product table for one call.
    await api.orm.em.getConnection().execute('alter table product rename to product_hidden');
    try {
      // A slug never read, so the catalogue cache cannot answer it.
      const { status, request, server } = await statusOf(`/trpc/catalog.get${input({ slug: 'never-read' })}`);
      expect(status).toBe(500);
      expect(request.attributes['http.response.status_code']).toBe(500);
      expect(request.attributes['error.type']).toBe('500');
      expect(server?.attributes['error.type']).toBe('500');
      expect(server?.status.code).toBe(SpanStatusCode.ERROR);
    } finally {
      await api.orm.em.getConnection().execute('alter table product_hidden rename to product');
    }
    telemetry.exporter.reset();
    // Uncached (not found), so it reads the product table.
    await api.client.catalog.get.query({ slug: 'oak-mug-gone' }).catch(() => null);
    const read = spans().find((s) => isSql(s) && s.attributes['db.collection.name'] === 'product');
    expect(read?.name).toBe('SELECT product');
    expect(read?.attributes['db.operation.name']).toBe('SELECT');
    expect(String(read?.attributes['db.query.text'])).not.toContain('oak-mug');
  });

  it('puts the active span’s trace and span ids on log lines', () => {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const logger = createLogger({ name: 'test', level: 'info', destination });
    const ids = trace.getTracer('test').startActiveSpan('logging', (span) => {
      withLogFields({ userId: 'usr_1' }, () => logger.child({ reqId: 'r1' }).info('inside'));
      span.end();
      return span.spanContext();
    });
    logger.info('outside');
    expect(lines[0]).toMatchObject({ trace_id: ids.traceId, span_id: ids.spanId, userId: 'usr_1', reqId: 'r1' });
    expect(lines[1]).not.toHaveProperty('trace_id');
  });
});
