/**
 * Helpers for Keelson's own tests (and a template for apps built on Keelson): a private database per
 * test file, the real API on port 0 called through the real client, and the worker.
 */
import { type App, buildApp } from '@keelson/api';
import { createTypingBus } from '@keelson/chat';
import { closeClient, createClient, type KeelsonClient } from '@keelson/client';
import { type Config, loadConfig } from '@keelson/config';
import { createOrm, type MikroORM } from '@keelson/db';
import type { TestDatabase } from '@keelson/db/testing';
import { createLogger } from '@keelson/runtime';
import { type Context, createContext } from '@keelson/trpc';
import { createWorker } from '@keelson/worker';
import { createWorkerHttp } from '@keelson/worker/http';
import { workerMetrics } from '@keelson/worker/metrics';
import type { Logger } from 'pino';
import { sql, testDatabase } from './database.ts';

export { lockRow, sql, testDatabase, useTestOrm } from './database.ts';
export { freePort } from './processes.ts';

/** Logs are silent in tests unless TEST_LOG_LEVEL asks for them. */
export function testLogger(): Logger {
  return createLogger({ name: 'keelson-test', level: testConfig().logLevel });
}

/** Configuration as the apps would load it, with test-friendly overrides on top. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PORT: '0',
    METRICS_PORT: '0',
    ...overrides,
  });
}

type ClientOpts = Omit<Parameters<typeof createClient>[0], 'url'>;

export interface TestApi extends AsyncDisposable {
  db: TestDatabase;
  orm: MikroORM;
  app: App;
  config: Config;
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
  /** `http://127.0.0.1:<port>` of the metrics listener (`/metrics`, apart from the public port). */
  metricsUrl: string;
  /** The real client over batched HTTP. */
  client: KeelsonClient;
  /** A client of its own, for a given transport or options. */
  newClient(opts?: ClientOpts): KeelsonClient;
  close(): Promise<void>;
}

/** The real API on port 0 with its own database. `await using api = await startTestApi()`. */
export async function startTestApi(
  opts: { config?: Record<string, string>; db?: TestDatabase } = {},
): Promise<TestApi> {
  const db = opts.db ?? (await testDatabase());
  const config = testConfig({ DATABASE_URL: db.url, ...opts.config });
  const orm = await createOrm({
    url: db.url,
    poolMax: config.database.poolMax,
    acquireTimeoutMs: config.database.acquireTimeoutMs,
    queryTimeoutMs: config.database.queryTimeoutMs,
  });
  const app = await buildApp({ config, orm, logger: testLogger() });
  await app.listen({ host: '127.0.0.1', port: config.http.port });
  const address = app.server.address();
  if (!address || typeof address !== 'object') throw new Error('API is not listening');
  const baseUrl = `http://127.0.0.1:${address.port}`;
  await app.metricsServer.listen({ host: '127.0.0.1', port: config.metrics.port });
  const metricsAddress = app.metricsServer.server.address();
  if (!metricsAddress || typeof metricsAddress !== 'object') throw new Error('API metrics are not listening');
  const metricsUrl = `http://127.0.0.1:${metricsAddress.port}`;
  const clients: KeelsonClient[] = [];
  const newClient = (o: ClientOpts = {}) => {
    const c = createClient({ url: `${baseUrl}/trpc`, ...o });
    clients.push(c);
    return c;
  };
  const client = newClient();
  const close = async () => {
    await Promise.all(clients.map(closeClient));
    await app.close();
    await orm.close(true);
    if (!opts.db) await db.drop();
  };
  return { db, orm, app, config, baseUrl, metricsUrl, client, newClient, close, [Symbol.asyncDispose]: close };
}

export interface QueuedJob {
  id: string;
  task: string;
  payload: unknown;
  key: string | null;
  attempts: number;
  max_attempts: number;
  last_error: string | null;
}

/** graphile-worker's jobs with their payloads (its public `jobs` view leaves payloads out). */
export function queuedJobs(url: string): Promise<QueuedJob[]> {
  return sql<QueuedJob>(
    url,
    `select j.id::text, t.identifier as task, j.payload, j.key, j.attempts, j.max_attempts, j.last_error
     from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
     order by j.id`,
  );
}
export { eventually, type RunningProcess, repoRoot, stackEnv, startProcess } from './processes.ts';

/** A tRPC context for `createCaller`, as an anonymous (or, with a token, signed-in) bearer client. */
export function testContext(
  orm: MikroORM,
  opts: { token?: string; ip?: string; config?: Record<string, string> } = {},
): Context {
  const config = testConfig(opts.config);
  return createContext(
    {
      orm,
      logger: testLogger(),
      sessions: {
        idleTimeoutMs: config.auth.sessionIdleTimeoutMs,
        maxAgeMs: config.auth.sessionMaxAgeMs,
        cookieSecure: false,
      },
      commerce: config.commerce,
      chat: config.chat,
      // Typing indicators of this caller's process only (no LISTEN connection in a createCaller test).
      typing: createTypingBus(),
    },
    {
      requestId: 'test',
      credential: opts.token ? { token: opts.token, source: 'bearer' } : null,
      trustedOrigin: false,
      crossSite: false,
      ip: opts.ip ?? '127.0.0.1',
      userAgent: 'vitest',
    },
  );
}
export { type CapturedMail, type SmtpCapture, startSmtpCapture } from './smtp.ts';
export { type TcpProxy, tcpProxy } from './tcpProxy.ts';

export interface TestWorker extends AsyncDisposable {
  /** With `http`: `http://127.0.0.1:<port>` of its `/healthz`, `/readyz` and `/metrics`. */
  baseUrl: string | null;
  stop(): Promise<void>;
}

/**
 * The worker in this process (same code as `pnpm start:worker`), on the given database. With `http`, also
 * its health and metrics server on a free port, with the metrics wired as `main.ts` wires them.
 */
export async function startTestWorker(opts: {
  db: TestDatabase;
  config?: Record<string, string>;
  http?: boolean;
}): Promise<TestWorker> {
  const config = testConfig({ DATABASE_URL: opts.db.url, WORKER_POLL_INTERVAL_MS: '200', ...opts.config });
  const orm = await createOrm({ url: opts.db.url, poolMax: 4 });
  const logger = testLogger();
  // The same wiring as main.ts: the ORM's pool and the shared queue gauges.
  const metrics = opts.http ? workerMetrics({ orm, logger }) : undefined;
  const worker = createWorker({ config, orm, logger, databaseUrl: opts.db.url, metrics });
  const http = metrics
    ? createWorkerHttp({
        orm,
        logger,
        databaseUrl: opts.db.url,
        acquireTimeoutMs: config.database.acquireTimeoutMs,
        isRunning: worker.isRunning,
        metrics,
        metricsToken: config.metrics.token,
      })
    : null;
  let baseUrl: string | null = null;
  if (http) {
    await http.listen({ host: '127.0.0.1', port: 0 });
    const address = http.server.address();
    if (!address || typeof address !== 'object') throw new Error('worker http is not listening');
    baseUrl = `http://127.0.0.1:${address.port}`;
  }
  await worker.start();
  const stop = async () => {
    await worker.stop();
    await http?.close();
    await orm.close(true);
  };
  return { baseUrl, stop, [Symbol.asyncDispose]: stop };
}

export interface RawResponse {
  status: number;
  headers: Headers;
  /** The superjson-decoded result data, or the error shape. */
  data: unknown;
  error: { message: string; data: Record<string, unknown> } | null;
  /** Every Set-Cookie header. */
  cookies: string[];
}

/**
 * One tRPC call over plain HTTP with full control of headers (cookies, Origin, Sec-Fetch-Site): what a
 * browser does, which the typed client cannot imitate.
 */
export async function rawCall(
  baseUrl: string,
  opts: { path: string; type: 'query' | 'mutation'; input?: unknown; headers?: Record<string, string> },
): Promise<RawResponse> {
  const encoded = JSON.stringify({ json: opts.input ?? null });
  const url = `${baseUrl}/trpc/${opts.path}${opts.type === 'query' ? `?input=${encodeURIComponent(encoded)}` : ''}`;
  const res = await fetch(url, {
    method: opts.type === 'query' ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...opts.headers },
    ...(opts.type === 'mutation' ? { body: encoded } : {}),
  });
  const body = (await res.json()) as { result?: { data: { json: unknown } }; error?: { json: RawResponse['error'] } };
  return {
    status: res.status,
    headers: res.headers,
    data: body.result?.data.json,
    error: body.error?.json ?? null,
    cookies: res.headers.getSetCookie(),
  };
}
export {
  createProduct,
  createUsers,
  type StockDiscrepancy,
  stockDiscrepancies,
  type TestUser,
} from './commerce.ts';
export { parseMetrics, promtoolCheckMetrics, type Sample, sampleValue, scrapeMetrics } from './metrics.ts';
export { browse, startOidcProvider, type TestAccount, type TestOidcProvider } from './oidcProvider.ts';
export { findTool, needsTool, type Tool, toolsRequired, updatingScreenshots } from './tools.ts';
