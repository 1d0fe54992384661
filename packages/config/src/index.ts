/**
 * The one module that reads `process.env`. Every app calls `loadConfig()` once in its `main.ts`
 * and passes the typed result down; nothing else looks at the environment.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseEnv } from 'node:util';
import { z } from 'zod';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const DAY = 24 * 60 * MINUTE;
const KiB = 1024;
const MiB = 1024 * KiB;

/** What a stopping worker needs after its grace period: failing what still runs, closing pools. */
const SHUTDOWN_BOOKKEEPING_MS = 1 * SECOND;

const splitList = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** proxy-addr's names for address ranges, accepted in TRUST_PROXY's list. */
const PROXY_RANGE_KEYWORDS = ['loopback', 'linklocal', 'uniquelocal'];
/** More hops than any real chain of proxies: beyond it a client's own entries would be believed. */
const MAX_PROXY_HOPS = 10;
const TRUST_PROXY_EXAMPLES =
  'the number of proxies in front of the API (e.g. 1) or their addresses (e.g. 10.0.0.0/8,127.0.0.1 or loopback,uniquelocal)';

/** An IP address (prefix null) or a CIDR range with its prefix length; null if the entry is neither. */
function parseAddressEntry(entry: string): { prefix: number | null } | null {
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return null;
  if (prefix === undefined) return { prefix: null };
  const bits = Number(prefix);
  return /^\d{1,3}$/.test(prefix) && bits <= (family === 4 ? 32 : 128) ? { prefix: bits } : null;
}

/**
 * TRUST_PROXY, as Fastify's `trustProxy` takes it. `true` is refused: it believes the X-Forwarded-For of
 * any client, so whoever reaches the API directly picks their own IP and every per-IP limit falls. A hop
 * count trusts the nearest N connections, right only where nothing reaches the API but through them;
 * addresses trust those proxies alone, wherever clients come from.
 */
function parseTrustProxy(raw: string, ctx: z.RefinementCtx): false | number | string[] {
  const value = raw.trim();
  const refuse = (why: string) => {
    ctx.addIssue({ code: 'custom', message: `${why}; set ${TRUST_PROXY_EXAMPLES}` });
    return z.NEVER;
  };
  if (value === '' || value === 'false') return false;
  if (value.toLowerCase() === 'true') {
    return refuse(
      '`true` would believe X-Forwarded-For from any client, who could then pick their own IP and escape every per-IP limit',
    );
  }
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops <= MAX_PROXY_HOPS) return hops === 0 ? false : hops;
    return refuse(`${hops} hops is more than any chain of proxies (at most ${MAX_PROXY_HOPS})`);
  }
  const entries = splitList(value);
  for (const entry of entries) {
    if (PROXY_RANGE_KEYWORDS.includes(entry)) continue;
    const parsed = parseAddressEntry(entry);
    if (!parsed) {
      return refuse(`"${entry}" is neither an IP address, a CIDR range nor one of ${PROXY_RANGE_KEYWORDS.join(', ')}`);
    }
    if (parsed.prefix === 0) return refuse(`"${entry}" trusts every address, as \`true\` would`);
  }
  return entries;
}

/** Every variable Keelson reads, with its default and unit. docs/configuration.md's table mirrors this. */
const schema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  /** Interface the API binds to. Containers need `0.0.0.0`. */
  HOST: z.string().min(1).default('127.0.0.1'),
  /** API port; 0 picks a free one. */
  PORT: int(0, 65535).default(3000),
  /** Who may say who the client is (X-Forwarded-For): `false`, a hop count, or the proxies' addresses (see parseTrustProxy). */
  TRUST_PROXY: z.string().default('false').transform(parseTrustProxy),
  /** Interface of the API's `/metrics` listener, apart from the public one (HOST:PORT). */
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** Port of the API's `/metrics` listener (9464: the usual Prometheus exporter port); 0 picks a free one. */
  METRICS_PORT: int(0, 65535).default(9464),
  /** Bearer token that `/metrics` of the API and of the worker then require (Prometheus `authorization`); unset, none. */
  METRICS_TOKEN: z
    .string()
    .regex(
      /^[\x21-\x7e]{32,}$/,
      'expected at least 32 printable characters without spaces, e.g. `openssl rand -hex 32`',
    )
    .optional(),
  /** Fastify `requestTimeout`, milliseconds. */
  REQUEST_TIMEOUT_MS: int(1, 10 * MINUTE).default(30 * SECOND),
  /** Largest accepted HTTP body, bytes. */
  BODY_LIMIT_BYTES: int(1 * KiB, 100 * MiB).default(1 * MiB),
  /** Largest accepted WebSocket message, bytes. */
  WS_MAX_PAYLOAD_BYTES: int(1 * KiB, 100 * MiB).default(1 * MiB),
  /**
   * How often each API process checks, in one query for all of them, that the sessions behind its live
   * subscriptions still exist, are unexpired, belong to an enabled user and keep the role they started
   * with; milliseconds.
   */
  SUBSCRIPTION_AUTH_RECHECK_MS: int(100, 1 * MINUTE).default(2 * SECOND),
  /** Subscriptions one WebSocket connection may hold at once; more get TOO_MANY_REQUESTS. */
  WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: int(1, 10_000).default(100),
  /** Realtime connections (WebSockets plus SSE streams) one signed-in user may hold per API process. */
  REALTIME_MAX_CONNECTIONS_PER_USER: int(1, 10_000).default(20),
  /** Realtime connections without a session one client IP may hold per API process. */
  REALTIME_MAX_CONNECTIONS_PER_IP: int(1, 100_000).default(200),
  /** Most calls one tRPC HTTP batch may carry. */
  TRPC_MAX_BATCH_SIZE: int(1, 1000).default(50),
  /** How long a stopping process waits for in-flight work before giving up, milliseconds. */
  SHUTDOWN_TIMEOUT_MS: int(0, 10 * MINUTE).default(8 * SECOND),
  /**
   * After SIGTERM, how long the API keeps serving while `/readyz` answers 503, so that load balancers stop
   * sending it new requests before it stops accepting them, milliseconds. 0 behind none.
   */
  SHUTDOWN_DRAIN_DELAY_MS: int(0, 5 * MINUTE).default(0),
  /**
   * Then, how long requests in flight may take to finish before their connections are cut, milliseconds.
   * Default: what SHUTDOWN_TIMEOUT_MS leaves after the drain delay and a second of bookkeeping.
   */
  HTTP_SHUTDOWN_GRACE_MS: int(0, 10 * MINUTE).optional(),

  /** PostgreSQL connection string. Unset: `pnpm start` runs the embedded PostgreSQL. */
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  /** Connections per process in the ORM's pool. */
  DATABASE_POOL_MAX: int(1, 200).default(10),
  /**
   * How long a query waits for a pooled connection (or for a new one to open) before it fails with
   * SERVICE_UNAVAILABLE, milliseconds: a lost or saturated database answers clients instead of hanging them.
   */
  DATABASE_ACQUIRE_TIMEOUT_MS: int(100, 5 * MINUTE).default(5 * SECOND),
  /**
   * Longest a query may go unanswered before its connection is dropped and it fails, milliseconds: a
   * database gone silent (no reset: a failed-over host, a frozen server) cannot hold requests or jobs.
   */
  DATABASE_QUERY_TIMEOUT_MS: int(SECOND, 1 * DAY).default(30 * SECOND),
  /**
   * Queries with bind parameters go as named prepared statements, parsed once per connection and planned
   * from a cached plan. `false` behind a pooler that cannot keep them (PgBouncer in transaction mode
   * before 1.21, or without max_prepared_statements).
   */
  DATABASE_PREPARED_STATEMENTS: z.stringbool().default(true),
  /** Where the embedded PostgreSQL keeps its data (relative to the repository root). */
  EMBEDDED_PG_DIR: z.string().min(1).default('.data/postgres'),
  /** Port of the embedded PostgreSQL (loopback only). */
  EMBEDDED_PG_PORT: int(1, 65535).default(54329),
  /**
   * The built web app the API serves at `/` (relative to the repository root; `pnpm start` builds it
   * when missing). Empty: the API serves no app, only a page listing the procedures.
   */
  WEB_DIR: z.string().default('apps/web/dist'),

  /** Jobs one worker process runs at once. */
  WORKER_CONCURRENCY: int(1, 100).default(5),
  /** How often the worker polls for future-scheduled and retried jobs, milliseconds (new jobs arrive by LISTEN/NOTIFY). */
  WORKER_POLL_INTERVAL_MS: int(100, 10 * MINUTE).default(2 * SECOND),
  /** Comma-separated task identifiers this worker process runs (a specialised replica); empty: every task. */
  WORKER_TASKS: z.string().default(''),
  /** After SIGTERM, how long running jobs may finish before they are failed (and so retried), milliseconds. */
  WORKER_SHUTDOWN_GRACE_MS: int(0, 10 * MINUTE).default(5 * SECOND),
  /** How often a worker process records that it is alive and sweeps dead workers' jobs, milliseconds. */
  WORKER_HEARTBEAT_INTERVAL_MS: int(100, 10 * MINUTE).default(10 * SECOND),
  /** A worker whose heartbeat is this old is dead: its locked jobs are released to run again, milliseconds. */
  WORKER_DEAD_AFTER_MS: int(SECOND, DAY).default(60 * SECOND),
  /**
   * Milliseconds to wait to complete finished jobs in one statement; -1: each at once. A worker killed
   * in that window runs those jobs again once the heartbeat sweep frees them (at-least-once, as always).
   */
  WORKER_COMPLETE_BATCH_DELAY_MS: int(-1, 5 * SECOND).default(-1),
  /** The same for failed attempts (their retry is scheduled in one statement); -1: each at once. */
  WORKER_FAIL_BATCH_DELAY_MS: int(-1, 5 * SECOND).default(-1),
  /** Interface the worker's health and metrics server binds to. */
  WORKER_HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  /** Port of the worker's `/healthz`, `/readyz` and `/metrics`; 0 picks a free one. */
  WORKER_HTTP_PORT: int(0, 65535).default(3001),

  /** Where users reach the app (links in emails, cookie prefix); default http://HOST:PORT. */
  PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  /**
   * Origins (besides PUBLIC_URL's) whose pages may call the API with credentials (CORS), send
   * cookie-authenticated mutations and open WebSockets. http(s) only: any other scheme's origin is the
   * opaque `null`, which sandboxed frames of any site send too.
   */
  ALLOWED_ORIGINS: z
    .string()
    .default('')
    .refine(
      (v) => splitList(v).every((o) => URL.canParse(o) && /^https?:$/.test(new URL(o).protocol)),
      'expected comma-separated http(s) origins like https://shop.example',
    ),
  /** A session unused this long expires (renewed as it is used), milliseconds. */
  SESSION_IDLE_TIMEOUT_MS: int(MINUTE, 90 * DAY).default(1 * DAY),
  /** A session expires this long after log-in whatever its use, milliseconds. */
  SESSION_MAX_AGE_MS: int(MINUTE, 365 * DAY).default(30 * DAY),
  /** SMTP server for outgoing mail (`smtp://user:pass@host:port`); unset, mail is written to MAIL_DIR. */
  SMTP_URL: z.url({ protocol: /^smtps?$/ }).optional(),
  /** Sender of outgoing mail. */
  MAIL_FROM: z.string().min(3).default('Keelson <no-reply@keelson.local>'),
  /** Where mail goes as .eml files when SMTP_URL is unset. */
  MAIL_DIR: z.string().min(1).default('.data/mail'),

  /** Currency of the store (ISO 4217); prices, carts and orders are in its minor units. */
  STORE_CURRENCY: z
    .string()
    .regex(/^[A-Z]{3}$/, 'expected an ISO 4217 code like USD')
    .default('USD'),
  /** Sales tax rate in basis points (825 = 8.25 %), applied to the order subtotal, rounded half-up to the cent. */
  TAX_RATE_BPS: int(0, 10_000).default(0),
  /** How long a checkout idempotency key is remembered, hours (at least 24). */
  CHECKOUT_KEY_TTL_HOURS: int(24, 24 * 30).default(24),
  /** Payment provider. Only the built-in `sandbox` (test tokens `tok_visa`, `tok_chargeDeclined`, `tok_processingError`) ships. */
  PAYMENT_PROVIDER: z.enum(['sandbox']).default('sandbox'),
  /** An order whose payment has not completed this long after checkout fails and its stock returns, hours. */
  PAYMENT_TIMEOUT_HOURS: int(1, 24 * 30).default(24),
  /** How many times the sandbox fails `tok_processingError` transiently before it succeeds. */
  PAYMENT_SANDBOX_TRANSIENT_FAILURES: int(0, 20).default(2),

  /** OpenID Connect sign-in: the provider's issuer URL. Unset, OIDC sign-in is off. */
  OIDC_ISSUER: z.url().optional(),
  OIDC_CLIENT_ID: z.string().min(1).optional(),
  OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  /** Allow an http:// issuer (a local test provider); refused in production. */
  OIDC_ALLOW_HTTP: z.stringbool().default(false),

  /** Catalogue responses cacheable by browsers and CDNs (public, anonymous, no error): max-age, seconds. */
  CATALOG_CACHE_MAX_AGE_S: int(0, DAY / SECOND).default(30),
  /** After max-age, how long a cache may serve the old response while it fetches a new one, seconds. */
  CATALOG_CACHE_STALE_WHILE_REVALIDATE_S: int(0, DAY / SECOND).default(30),
  /** Products (by id and by slug) each API process keeps in memory; 0 turns the in-process cache off. */
  CATALOG_CACHE_MAX_ENTRIES: int(0, 1_000_000).default(10_000),
  /** Longest an in-process cache entry lives even without a change notification, milliseconds. */
  CATALOG_CACHE_TTL_MS: int(SECOND, DAY).default(5 * MINUTE),

  /** Target size of one stored piece of a report's CSV (`report_chunk` row), bytes; pieces end at line ends. */
  REPORT_CHUNK_BYTES: int(64, 1 * MiB).default(64 * KiB),
  /** Rows the report generator fetches from its server-side cursor at a time. */
  REPORT_FETCH_ROWS: int(1, 100_000).default(1000),

  /** How often `dashboard.live` pushes a snapshot (one query per API process per tick, only while watched), milliseconds. */
  DASHBOARD_INTERVAL_MS: int(500, 10 * MINUTE).default(3 * SECOND),
  /** How long a support reply may stay unread before the customer gets one email about it (per burst of replies), milliseconds. */
  CHAT_EMAIL_AFTER_MS: int(1 * SECOND, 7 * 24 * 60 * MINUTE).default(5 * MINUTE),
  /** Support-chat messages one user may send a minute (TOO_MANY_REQUESTS beyond, with Retry-After). */
  CHAT_SEND_PER_MINUTE: int(1, 10_000).default(30),
  /** How long realtime events are kept for resuming clients (`lastEventId`), hours; older ones are pruned. */
  EVENTS_RETENTION_HOURS: int(1, 24 * 365).default(72),

  /** OTLP/HTTP (protobuf) collector base URL, e.g. `http://127.0.0.1:4318`; traces go to `<url>/v1/traces`. Unset: tracing is off and its SDK is never loaded. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  /** `service.name` of the process's spans; unset: `keelson-api` or `keelson-worker`, from the entry point. */
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
  /** Which traces are recorded (the standard OpenTelemetry sampler names). */
  OTEL_TRACES_SAMPLER: z
    .enum([
      'always_on',
      'always_off',
      'traceidratio',
      'parentbased_always_on',
      'parentbased_always_off',
      'parentbased_traceidratio',
    ])
    .default('parentbased_always_on'),
  /** Ratio of new traces recorded by the `*traceidratio` samplers, 0 to 1. */
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),

  /** Email of the admin account `db:seed` creates in an empty database. */
  SEED_ADMIN_EMAIL: z.email().default('admin@keelson.local'),
  /** Its password; unset, a random one is generated and printed once. */
  SEED_ADMIN_PASSWORD: z.string().min(12).max(256).optional(),
});

export type Env = z.infer<typeof schema>;

/** The names of every variable read, for documentation checks. */
export const configVariables = Object.keys(schema.shape) as (keyof Env)[];

/** The `.default()` a variable's schema declares, before any transform; undefined when it has none. */
function declaredDefault(type: z.ZodType): unknown {
  const def = type._zod.def as { type: string; defaultValue?: unknown; in?: z.ZodType };
  if (def.type === 'default') return def.defaultValue;
  if (def.type === 'pipe' && def.in) return declaredDefault(def.in);
  return undefined;
}

/** Each variable's default as it would be written in the environment (`.env.example` is made of these). */
export function configDefaults(): Record<keyof Env, string | undefined> {
  return Object.fromEntries(
    Object.entries(schema.shape).map(([name, type]) => {
      const value = declaredDefault(type as z.ZodType);
      return [name, value === undefined ? undefined : String(value)];
    }),
  ) as Record<keyof Env, string | undefined>;
}

export interface Config {
  env: Env['NODE_ENV'];
  logLevel: Env['LOG_LEVEL'];
  http: {
    host: string;
    port: number;
    /** TRUST_PROXY: false, the number of proxy hops to trust, or the proxies' addresses/CIDRs/keywords. */
    trustProxy: false | number | string[];
    requestTimeoutMs: number;
    bodyLimitBytes: number;
    wsMaxPayloadBytes: number;
    maxBatchSize: number;
    /** WEB_DIR: the web app's build, or null for none. */
    webDir: string | null;
  };
  metrics: {
    /** The API's listener for `/metrics`; the worker serves it on `worker.http`. */
    host: string;
    port: number;
    /** METRICS_TOKEN; null: `/metrics` asks for no credentials (its listeners' addresses are the guard). */
    token: string | null;
  };
  realtime: {
    /** SUBSCRIPTION_AUTH_RECHECK_MS. */
    authRecheckMs: number;
    maxSubscriptionsPerConnection: number;
    maxConnectionsPerUser: number;
    /** For connections without a session. */
    maxConnectionsPerIp: number;
  };
  shutdownTimeoutMs: number;
  /** The API's stop: serve on unready for `drainDelayMs`, then give in-flight requests `graceMs`. */
  httpShutdown: { drainDelayMs: number; graceMs: number };
  database: {
    /** Undefined only where the embedded PostgreSQL will provide one (`pnpm start`). */
    url: string | undefined;
    poolMax: number;
    acquireTimeoutMs: number;
    queryTimeoutMs: number;
    preparedStatements: boolean;
    embedded: { dir: string; port: number };
  };
  worker: {
    concurrency: number;
    pollIntervalMs: number;
    /** Task identifiers this process runs; null: every task. Checked against the contracts by the worker. */
    tasks: string[] | null;
    /** Fits inside `shutdownTimeoutMs`, with room left to fail what is still running. */
    shutdownGraceMs: number;
    heartbeatIntervalMs: number;
    deadAfterMs: number;
    /** Batched completion and failure of jobs, milliseconds; -1: off. */
    completeBatchDelayMs: number;
    failBatchDelayMs: number;
    http: { host: string; port: number };
  };
  auth: {
    /** Origin users reach the app at, e.g. `https://shop.example` (no trailing slash). */
    publicUrl: string;
    /** Origins allowed CORS with credentials, cookie-authenticated mutations and WebSockets; always includes publicUrl's. */
    allowedOrigins: string[];
    sessionIdleTimeoutMs: number;
    sessionMaxAgeMs: number;
    /** `Secure` cookies everywhere but development and test over plain HTTP. */
    cookieSecure: boolean;
  };
  mail: { smtpUrl: string | undefined; from: string; dir: string };
  commerce: {
    currency: string;
    /** Basis points: 825 = 8.25 %. */
    taxRateBps: number;
    checkoutKeyTtlMs: number;
  };
  payments: { provider: 'sandbox'; sandboxTransientFailures: number; timeoutMs: number };
  catalog: {
    /** `Cache-Control` of public catalogue responses. */
    httpMaxAgeS: number;
    httpStaleWhileRevalidateS: number;
    /** The in-process cache; 0 entries turns it off. */
    cacheMaxEntries: number;
    cacheTtlMs: number;
  };
  reports: {
    /** REPORT_CHUNK_BYTES. */
    chunkBytes: number;
    /** REPORT_FETCH_ROWS. */
    fetchRows: number;
  };
  dashboard: {
    /** DASHBOARD_INTERVAL_MS. */
    intervalMs: number;
  };
  chat: {
    /** CHAT_EMAIL_AFTER_MS. */
    emailAfterMs: number;
    /** CHAT_SEND_PER_MINUTE. */
    sendPerMinute: number;
  };
  events: {
    /** EVENTS_RETENTION_HOURS: a client may resume from a cursor this old. */
    retentionMs: number;
  };
  /** Null when OIDC sign-in is not configured. */
  oidc: { issuer: string; clientId: string; clientSecret: string; redirectUri: string; allowHttp: boolean } | null;
  seed: { adminEmail: string; adminPassword: string | undefined };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(message: string) {
    super(message);
    // An operator needs the message, not a stack trace into the config module.
    this.stack = `${this.name}: ${message}`;
  }
}

/** The process environment over the variables of `./.env` when there is one (the environment wins). */
export function readEnvironment(envFile = '.env'): Record<string, string | undefined> {
  const fromFile = existsSync(envFile) ? parseEnv(readFileSync(envFile, 'utf8')) : {};
  return { ...fromFile, ...process.env };
}

/**
 * Validates the environment and returns the typed configuration. Throws a `ConfigError` naming
 * every bad variable, so a misconfigured process stops at start-up rather than at first use.
 */
export function loadConfig(env: Record<string, string | undefined> = readEnvironment()): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const publicUrl = (e.PUBLIC_URL ?? `http://${e.HOST === '0.0.0.0' ? '127.0.0.1' : e.HOST}:${e.PORT}`).replace(
    /\/+$/,
    '',
  );
  const problems = [
    e.SESSION_MAX_AGE_MS < e.SESSION_IDLE_TIMEOUT_MS && 'SESSION_MAX_AGE_MS: must be at least SESSION_IDLE_TIMEOUT_MS',
    e.OIDC_ISSUER &&
      !(e.OIDC_CLIENT_ID && e.OIDC_CLIENT_SECRET) &&
      'OIDC_CLIENT_ID, OIDC_CLIENT_SECRET: required with OIDC_ISSUER',
    e.OIDC_ALLOW_HTTP && e.NODE_ENV === 'production' && 'OIDC_ALLOW_HTTP: not allowed in production',
    // Failing the interrupted jobs and closing connections needs time of its own before the hard exit.
    e.WORKER_SHUTDOWN_GRACE_MS + SHUTDOWN_BOOKKEEPING_MS > e.SHUTDOWN_TIMEOUT_MS &&
      `WORKER_SHUTDOWN_GRACE_MS: must leave at least ${SHUTDOWN_BOOKKEEPING_MS} ms of SHUTDOWN_TIMEOUT_MS (${e.SHUTDOWN_TIMEOUT_MS})`,
    // The API's drain and grace, then closing realtime and the pool, all happen before the hard exit.
    e.SHUTDOWN_DRAIN_DELAY_MS + (e.HTTP_SHUTDOWN_GRACE_MS ?? 0) + SHUTDOWN_BOOKKEEPING_MS > e.SHUTDOWN_TIMEOUT_MS &&
      `${e.HTTP_SHUTDOWN_GRACE_MS === undefined ? 'SHUTDOWN_DRAIN_DELAY_MS' : 'SHUTDOWN_DRAIN_DELAY_MS + HTTP_SHUTDOWN_GRACE_MS'}: must leave at least ${SHUTDOWN_BOOKKEEPING_MS} ms of SHUTDOWN_TIMEOUT_MS (${e.SHUTDOWN_TIMEOUT_MS})`,
    // The point of a listener of its own is that the public one never serves metrics.
    e.METRICS_PORT !== 0 &&
      e.METRICS_PORT === e.PORT &&
      'METRICS_PORT: must differ from PORT (metrics are served apart from the public listener)',
    // A live worker beats several times before anyone may call it dead, so one slow beat is no death.
    e.WORKER_DEAD_AFTER_MS < 3 * e.WORKER_HEARTBEAT_INTERVAL_MS &&
      'WORKER_DEAD_AFTER_MS: must be at least 3 times WORKER_HEARTBEAT_INTERVAL_MS',
  ].filter(Boolean);
  if (problems.length) throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  return {
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    http: {
      host: e.HOST,
      port: e.PORT,
      trustProxy: e.TRUST_PROXY,
      requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
      bodyLimitBytes: e.BODY_LIMIT_BYTES,
      wsMaxPayloadBytes: e.WS_MAX_PAYLOAD_BYTES,
      maxBatchSize: e.TRPC_MAX_BATCH_SIZE,
      webDir: e.WEB_DIR || null,
    },
    metrics: { host: e.METRICS_HOST, port: e.METRICS_PORT, token: e.METRICS_TOKEN ?? null },
    realtime: {
      authRecheckMs: e.SUBSCRIPTION_AUTH_RECHECK_MS,
      maxSubscriptionsPerConnection: e.WS_MAX_SUBSCRIPTIONS_PER_CONNECTION,
      maxConnectionsPerUser: e.REALTIME_MAX_CONNECTIONS_PER_USER,
      maxConnectionsPerIp: e.REALTIME_MAX_CONNECTIONS_PER_IP,
    },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    httpShutdown: {
      drainDelayMs: e.SHUTDOWN_DRAIN_DELAY_MS,
      graceMs:
        e.HTTP_SHUTDOWN_GRACE_MS ??
        Math.max(0, e.SHUTDOWN_TIMEOUT_MS - e.SHUTDOWN_DRAIN_DELAY_MS - SHUTDOWN_BOOKKEEPING_MS),
    },
    database: {
      url: e.DATABASE_URL,
      poolMax: e.DATABASE_POOL_MAX,
      acquireTimeoutMs: e.DATABASE_ACQUIRE_TIMEOUT_MS,
      queryTimeoutMs: e.DATABASE_QUERY_TIMEOUT_MS,
      preparedStatements: e.DATABASE_PREPARED_STATEMENTS,
      embedded: { dir: e.EMBEDDED_PG_DIR, port: e.EMBEDDED_PG_PORT },
    },
    worker: {
      concurrency: e.WORKER_CONCURRENCY,
      pollIntervalMs: e.WORKER_POLL_INTERVAL_MS,
      tasks: splitList(e.WORKER_TASKS).length ? splitList(e.WORKER_TASKS) : null,
      shutdownGraceMs: e.WORKER_SHUTDOWN_GRACE_MS,
      heartbeatIntervalMs: e.WORKER_HEARTBEAT_INTERVAL_MS,
      deadAfterMs: e.WORKER_DEAD_AFTER_MS,
      completeBatchDelayMs: e.WORKER_COMPLETE_BATCH_DELAY_MS,
      failBatchDelayMs: e.WORKER_FAIL_BATCH_DELAY_MS,
      http: { host: e.WORKER_HTTP_HOST, port: e.WORKER_HTTP_PORT },
    },
    auth: {
      publicUrl,
      allowedOrigins: [new URL(publicUrl).origin, ...splitList(e.ALLOWED_ORIGINS).map((o) => new URL(o).origin)],
      sessionIdleTimeoutMs: e.SESSION_IDLE_TIMEOUT_MS,
      sessionMaxAgeMs: e.SESSION_MAX_AGE_MS,
      cookieSecure: publicUrl.startsWith('https:') || e.NODE_ENV === 'production',
    },
    mail: { smtpUrl: e.SMTP_URL, from: e.MAIL_FROM, dir: e.MAIL_DIR },
    commerce: {
      currency: e.STORE_CURRENCY,
      taxRateBps: e.TAX_RATE_BPS,
      checkoutKeyTtlMs: e.CHECKOUT_KEY_TTL_HOURS * 60 * MINUTE,
    },
    payments: {
      provider: e.PAYMENT_PROVIDER,
      sandboxTransientFailures: e.PAYMENT_SANDBOX_TRANSIENT_FAILURES,
      timeoutMs: e.PAYMENT_TIMEOUT_HOURS * 60 * MINUTE,
    },
    catalog: {
      httpMaxAgeS: e.CATALOG_CACHE_MAX_AGE_S,
      httpStaleWhileRevalidateS: e.CATALOG_CACHE_STALE_WHILE_REVALIDATE_S,
      cacheMaxEntries: e.CATALOG_CACHE_MAX_ENTRIES,
      cacheTtlMs: e.CATALOG_CACHE_TTL_MS,
    },
    reports: { chunkBytes: e.REPORT_CHUNK_BYTES, fetchRows: e.REPORT_FETCH_ROWS },
    dashboard: { intervalMs: e.DASHBOARD_INTERVAL_MS },
    chat: { emailAfterMs: e.CHAT_EMAIL_AFTER_MS, sendPerMinute: e.CHAT_SEND_PER_MINUTE },
    events: { retentionMs: e.EVENTS_RETENTION_HOURS * 60 * MINUTE },
    oidc: e.OIDC_ISSUER
      ? {
          issuer: e.OIDC_ISSUER,
          clientId: e.OIDC_CLIENT_ID ?? '',
          clientSecret: e.OIDC_CLIENT_SECRET ?? '',
          redirectUri: `${publicUrl}/auth/oidc/callback`,
          allowHttp: e.OIDC_ALLOW_HTTP,
        }
      : null,
    seed: { adminEmail: e.SEED_ADMIN_EMAIL, adminPassword: e.SEED_ADMIN_PASSWORD },
  };
}

const telemetrySchema = schema.pick({
  OTEL_EXPORTER_OTLP_ENDPOINT: true,
  OTEL_SERVICE_NAME: true,
  OTEL_TRACES_SAMPLER: true,
  OTEL_TRACES_SAMPLER_ARG: true,
});

export type TracesSampler = Env['OTEL_TRACES_SAMPLER'];

export interface TelemetryConfig {
  /** OTLP base URL; undefined means tracing is off. */
  endpoint: string | undefined;
  /** Undefined: the entry point decides. */
  serviceName: string | undefined;
  sampler: TracesSampler;
  /** The ratio of the `*traceidratio` samplers. */
  samplerRatio: number;
}

/**
 * The tracing variables alone. Telemetry starts before the app (`node --import`), so it must not fail on
 * a variable only the app needs; the app's own `loadConfig()` validates these again with everything else.
 */
export function loadTelemetryConfig(env: Record<string, string | undefined> = readEnvironment()): TelemetryConfig {
  const parsed = telemetrySchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return {
    endpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
    serviceName: e.OTEL_SERVICE_NAME,
    sampler: e.OTEL_TRACES_SAMPLER,
    samplerRatio: e.OTEL_TRACES_SAMPLER_ARG,
  };
}

/** The database URL, or a start-up error that tells the operator what to do. */
export function requireDatabaseUrl(config: Config): string {
  if (!config.database.url) {
    throw new ConfigError(
      'DATABASE_URL is not set. Set it to your PostgreSQL server, or run `pnpm start` to use the embedded PostgreSQL.',
    );
  }
  return config.database.url;
}
