/**
 * Real Prometheus and Alertmanager processes for the observability tests (Debian's binaries), each on a
 * free loopback port with its config and storage in a temporary folder of its own, plus what the tests
 * point them at: a webhook receiver, and copies of alerts.yml with their `for:` and windows shortened so
 * that an alert's whole life fits in seconds.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventually, freePort } from '@keelson/testing';
import { stringify } from 'yaml';
import { readYaml, repoRoot } from './files.ts';

export const alertsFile = path.join(repoRoot, 'observability/prometheus/alerts.yml');
export const alertmanagerFile = 'observability/alertmanager/alertmanager.yml';

export interface QueryResult {
  status: 'success' | 'error';
  error?: string;
  data?: {
    resultType: string;
    result: { metric?: Record<string, string>; value?: [number, string] }[] | [number, string];
  };
}

/** One series of an instant vector: its labels and value. */
export interface VectorSample {
  metric: Record<string, string>;
  value: number;
}

/** An alert as Prometheus' /api/v1/alerts lists it. */
export interface PrometheusAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
  value: string;
}

/** Whether a query result holds at least one finite value: something a panel would draw. */
export function hasData(result: QueryResult): boolean {
  const data = result.data;
  if (result.status !== 'success' || !data) return false;
  if (data.resultType === 'scalar') return Number.isFinite(Number((data.result as [number, string])[1]));
  return (data.result as { value?: [number, string] }[]).some((s) => Number.isFinite(Number(s.value?.[1])));
}

/** `host:port` of a URL (`http://127.0.0.1:1234` → `127.0.0.1:1234`), as a static target is written. */
export const hostOf = (url: string | null): string => new URL(url ?? '').host;

interface Daemon {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Spawns `command`, waits (at most `readyMs`) for `GET /-/ready` to answer 200, and returns it with
 * `dir` removed at stop. A missing binary, or one that exits or never gets ready, fails with its output.
 */
async function startDaemon(opts: {
  command: string;
  args: string[];
  url: string;
  dir: string;
  readyMs?: number;
}): Promise<Daemon> {
  const { command, args, url, dir, readyMs = 30_000 } = opts;
  let child: ChildProcess;
  try {
    child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    await Promise.race([
      once(child, 'spawn'),
      once(child, 'error').then(([err]) => {
        throw (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? new Error(
              `${command} is not installed: install Debian's ${command === 'prometheus' ? 'prometheus' : 'prometheus-alertmanager'} package, as .ci/run does`,
            )
          : err;
      }),
    ]);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c));
  child.stderr?.on('data', (c: Buffer) => (output += c));
  // A test that times out never reaches its cleanup: the daemon must not outlive the test process.
  const orphanGuard = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', orphanGuard);
  const stop = async () => {
    process.off('exit', orphanGuard);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await eventually(() => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${command} exited`);
      return fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
    }, readyMs);
  } catch (err) {
    await stop();
    throw new Error(`${command} did not become ready (${(err as Error).message}):\n${output}`);
  }
  return { url, output: () => output, stop };
}

export interface PrometheusOptions {
  /** Static targets (`host:port`) per job name; an empty list makes a job without targets. */
  targets: Record<string, string | string[]>;
  /** Default `1s`. */
  scrapeInterval?: string;
  /** Default: the scrape interval. */
  evaluationInterval?: string;
  /** Presented to every target as a bearer token, from a file as docs/observability.md tells operators. */
  metricsToken?: string;
  /** Rule files (absolute paths). Default: the repository's alerts.yml. */
  ruleFiles?: string[];
  /** Rules as YAML text (e.g. `shortenedAlertRules()`), written beside the config and used instead of `ruleFiles`. */
  rules?: string;
  /** `host:port` of an Alertmanager that firing alerts are sent to (the `alerting` block). */
  alertmanager?: string;
  /** Top-level config keys merged over the generated ones. */
  extraConfig?: Record<string, unknown>;
}

export interface Prometheus extends AsyncDisposable {
  url: string;
  output(): string;
  query(expr: string): Promise<QueryResult>;
  /** An instant query's series, which must succeed (a scalar comes back as one series without labels). */
  vector(expr: string): Promise<VectorSample[]>;
  /** Pending and firing alerts. */
  alerts(): Promise<PrometheusAlert[]>;
  stop(): Promise<void>;
}

/** Prometheus, started on a free port with a config of its own in a temporary folder. */
export async function startPrometheus(opts: PrometheusOptions): Promise<Prometheus> {
  const dir = await mkdtemp(path.join(tmpdir(), 'keelson-prometheus-'));
  const port = await freePort();
  const scrapeInterval = opts.scrapeInterval ?? '1s';
  let authorization: { type: string; credentials_file: string } | undefined;
  if (opts.metricsToken) {
    const credentials = path.join(dir, 'metrics-token');
    await writeFile(credentials, `${opts.metricsToken}\n`, { mode: 0o600 });
    authorization = { type: 'Bearer', credentials_file: credentials };
  }
  let ruleFiles = opts.ruleFiles ?? [alertsFile];
  if (opts.rules !== undefined) {
    const file = path.join(dir, 'rules.yml');
    await writeFile(file, opts.rules);
    ruleFiles = [file];
  }
  const config = {
    global: { scrape_interval: scrapeInterval, evaluation_interval: opts.evaluationInterval ?? scrapeInterval },
    rule_files: ruleFiles,
    ...(opts.alertmanager
      ? { alerting: { alertmanagers: [{ static_configs: [{ targets: [opts.alertmanager] }] }] } }
      : {}),
    scrape_configs: Object.entries(opts.targets).map(([job, targets]) => ({
      job_name: job,
      ...(authorization ? { authorization } : {}),
      static_configs: [{ targets: typeof targets === 'string' ? [targets] : targets }],
    })),
    ...opts.extraConfig,
  };
  // JSON is YAML: no serialiser needed.
  await writeFile(path.join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
  const url = `http://127.0.0.1:${port}`;
  const daemon = await startDaemon({
    command: 'prometheus',
    args: [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--enable-feature=exemplar-storage',
      '--log.level=warn',
    ],
    url,
    dir,
  });
  const query = async (expr: string): Promise<QueryResult> => {
    const res = await fetch(`${url}/api/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ query: expr }),
    });
    return (await res.json()) as QueryResult;
  };
  return {
    url,
    output: daemon.output,
    query,
    async vector(expr) {
      const result = await query(expr);
      if (result.status !== 'success' || !result.data) throw new Error(`query failed: ${expr}: ${result.error}`);
      if (result.data.resultType === 'scalar') {
        return [{ metric: {}, value: Number((result.data.result as [number, string])[1]) }];
      }
      return (result.data.result as { metric?: Record<string, string>; value?: [number, string] }[]).map((s) => ({
        metric: s.metric ?? {},
        value: Number(s.value?.[1]),
      }));
    },
    async alerts() {
      const res = (await (await fetch(`${url}/api/v1/alerts`)).json()) as { data: { alerts: PrometheusAlert[] } };
      return res.data.alerts;
    },
    stop: daemon.stop,
    [Symbol.asyncDispose]: daemon.stop,
  };
}

export interface Alertmanager extends AsyncDisposable {
  url: string;
  /** `host:port`, for Prometheus' `alerting` block. */
  host: string;
  output(): string;
  stop(): Promise<void>;
}

/** Alertmanager (Debian's `prometheus-alertmanager`) with `configYaml`, clustering off, on a free port. */
export async function startAlertmanager(configYaml: string): Promise<Alertmanager> {
  const dir = await mkdtemp(path.join(tmpdir(), 'keelson-alertmanager-'));
  const port = await freePort();
  const configFile = path.join(dir, 'alertmanager.yml');
  await writeFile(configFile, configYaml);
  const host = `127.0.0.1:${port}`;
  const daemon = await startDaemon({
    command: 'prometheus-alertmanager',
    args: [
      `--config.file=${configFile}`,
      `--storage.path=${path.join(dir, 'data')}`,
      `--web.listen-address=${host}`,
      // Empty: no gossip port, no peers (a single instance).
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    url: `http://${host}`,
    dir,
  });
  return { url: daemon.url, host, output: daemon.output, stop: daemon.stop, [Symbol.asyncDispose]: daemon.stop };
}

interface AlertmanagerConfig {
  global: Record<string, unknown>;
  route: Record<string, unknown>;
  receivers: { name: string; webhook_configs?: { url: string }[]; email_configs?: unknown[] }[];
}

/**
 * The repository's alertmanager.yml, with its SMTP relay and webhooks pointed at the given local ones and
 * the route's timings overridden (e.g. `{ group_wait: '1s' }`); everything else as operators get it.
 */
export function localAlertmanagerConfig(opts: {
  smtpUrl: string;
  webhookUrl: string;
  route?: Record<string, string>;
}): string {
  const config = readYaml<AlertmanagerConfig>(alertmanagerFile);
  config.global.smtp_smarthost = hostOf(opts.smtpUrl);
  for (const receiver of config.receivers) {
    for (const webhook of receiver.webhook_configs ?? []) webhook.url = opts.webhookUrl;
  }
  Object.assign(config.route, opts.route);
  return stringify(config);
}

interface AlertRuleFile {
  groups: { name: string; rules: { alert?: string; expr: string; for?: string }[] }[];
}

/**
 * alerts.yml with every `for:` set to `forDuration` and, for the alerts named in `windows`, every range
 * selector (`[5m]`, not a subquery's `[1h:1m]`) set to that window: the same expressions, on a test's clock.
 */
export function shortenedAlertRules(opts: { forDuration: string; windows?: Record<string, string> }): string {
  const file = readYaml<AlertRuleFile>('observability/prometheus/alerts.yml');
  for (const rule of file.groups.flatMap((g) => g.rules)) {
    if (rule.for !== undefined) rule.for = opts.forDuration;
    const window = rule.alert ? opts.windows?.[rule.alert] : undefined;
    if (window) rule.expr = rule.expr.replace(/\[\d+[smhdwy]\]/g, `[${window}]`);
  }
  return stringify(file);
}

export interface WebhookRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** What Alertmanager posts to a webhook (version 4 of its payload). */
export interface AlertmanagerNotification {
  receiver: string;
  status: 'firing' | 'resolved';
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  alerts: {
    status: 'firing' | 'resolved';
    labels: Record<string, string>;
    annotations: Record<string, string>;
    startsAt: string;
  }[];
}

export interface WebhookReceiver extends AsyncDisposable {
  /** `http://127.0.0.1:<port>/alerts` */
  url: string;
  requests: WebhookRequest[];
  /** Resolves with the first request (received now or later) whose JSON body `match` accepts. */
  waitFor<T = AlertmanagerNotification>(match: (body: T) => boolean, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

/** An HTTP server on loopback that answers every POST 200 and keeps its JSON body. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const requests: WebhookRequest[] = [];
  const listeners = new Set<() => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST') {
        res.writeHead(405).end();
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // Kept as text.
      }
      requests.push({ path: req.url ?? '/', headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      for (const l of listeners) l();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    requests,
    waitFor<T>(match: (body: T) => boolean, timeoutMs = 30_000) {
      return new Promise<T>((resolve, reject) => {
        const check = () => {
          const found = requests.find((r) => {
            try {
              return match(r.body as T);
            } catch {
              return false;
            }
          });
          if (found) {
            done();
            resolve(found.body as T);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `no matching webhook request within ${timeoutMs} ms; got ${requests.length}: ${JSON.stringify(requests.map((r) => r.body))}`,
            ),
          );
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
