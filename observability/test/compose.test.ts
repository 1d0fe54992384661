/**
 * docker-compose.yml and apps/Dockerfile cannot run here (no Docker engine), so this checks what would
 * break them: every file they mount or copy exists, the ports and addresses agree with Prometheus, nginx,
 * Grafana, the collector and Tempo, the environment passes the real config validation, and the three
 * app commands are root package.json scripts that this test then runs natively, in compose's order
 * (migrate an empty database, then the API and the worker report ready on it, and serve their metrics).
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { configVariables, loadConfig } from '@keelson/config';
import { eventually, freePort, sql, startProcess, testDatabase } from '@keelson/testing';
import { describe, expect, it } from 'vitest';
import { exists, readText, readYaml } from './files.ts';

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  deploy?: { replicas?: number };
  healthcheck?: { test?: string[]; disable?: boolean };
}

const compose = readYaml<{ services: Record<string, Service>; volumes: Record<string, unknown> }>('docker-compose.yml');
const services = compose.services;
const service = (name: string): Service => {
  const s = services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
};
const env = (name: string): Record<string, string> => service(name).environment ?? {};
/**
 * The root scripts as the image runs them: `node` itself (so SIGTERM reaches it), without the check that
 * this Node is recent enough, which the image's Node 24 is.
 */
const rootScripts = Object.fromEntries(
  Object.entries((JSON.parse(readText('package.json')) as { scripts: Record<string, string> }).scripts).map(
    ([name, body]) => [name, body.replace(/^exec node --import \.\/apps\/dev\/src\/supportedNode\.mjs /, 'node ')],
  ),
);

/** The application services and the root script each one runs. */
const appCommands = { migrate: 'db:migrate', api: 'start:api', worker: 'start:worker' } as const;

/** Variables the OpenTelemetry SDK reads itself (standard names, not Keelson's config). */
const otelVariables = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_SERVICE_NAME'];

describe('docker-compose.yml', () => {
  it('has the whole stack', () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        'alert-webhook',
        'alertmanager',
        'api',
        'grafana',
        'lb',
        'loki',
        'mailpit',
        'migrate',
        'otel-collector',
        'postgres',
        'prometheus',
        'tempo',
        'tempo-init',
        'worker',
      ].sort(),
    );
    expect(service('postgres').image).toMatch(/^postgres:\d+/);
    expect(service('api').deploy?.replicas).toBe(2);
  });

  it('mounts only files and folders that exist in the repository; named volumes are declared', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const volume of s.volumes ?? []) {
        const [source = ''] = volume.split(':');
        if (source.startsWith('.')) expect(exists(source), `${name}: ${source}`).toBe(true);
        else expect(Object.keys(compose.volumes), `${name}: volume ${source}`).toContain(source);
      }
    }
  });

  it('builds the app image from apps/Dockerfile, whose COPY sources exist', () => {
    for (const name of Object.keys(appCommands)) {
      expect(service(name).build).toEqual({ context: '.', dockerfile: 'apps/Dockerfile' });
    }
    expect(exists('apps/Dockerfile.dockerignore')).toBe(true);
    const dockerfile = readText('apps/Dockerfile');
    const copies = [...dockerfile.matchAll(/^COPY (?!--from)(.+)$/gm)].map((m) => (m[1] ?? '').trim().split(/\s+/));
    expect(copies.length).toBeGreaterThan(0);
    for (const parts of copies) {
      for (const source of parts.slice(0, -1).filter((p) => !p.startsWith('--'))) {
        expect(exists(source), `COPY ${source}`).toBe(true);
      }
    }
    expect(dockerfile).toMatch(/^FROM node:24|^ARG NODE_IMAGE=node:24/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*\/healthz/m);
    expect(dockerfile).toMatch(/--frozen-lockfile/);
    const cmd = dockerfile.match(/^CMD (.+)$/m)?.[1] ?? '';
    expect(JSON.parse(cmd).join(' ')).toBe(rootScripts['start:api']);
  });

  it('runs each app service with the body of a root package.json script', () => {
    for (const [name, script] of Object.entries(appCommands)) {
      expect(service(name).command?.join(' '), name).toBe(rootScripts[script]);
      expect(exists(service(name).command?.find((a) => a.endsWith('.ts')) ?? ''), name).toBe(true);
    }
    for (const name of ['api', 'worker']) {
      expect(service(name).depends_on, name).toMatchObject({
        migrate: { condition: 'service_completed_successfully' },
      });
    }
  });

  it("gives the apps only Keelson's documented variables (and the OpenTelemetry SDK's), valid in production", () => {
    for (const name of Object.keys(appCommands)) {
      for (const key of Object.keys(env(name))) {
        expect([...configVariables, ...otelVariables], `${name}: ${key}`).toContain(key);
      }
      expect(() => loadConfig(env(name)), name).not.toThrow();
    }
    expect(env('api').HOST).toBe('0.0.0.0');
    expect(env('api').METRICS_HOST).toBe('0.0.0.0');
    expect(env('worker').WORKER_HTTP_HOST).toBe('0.0.0.0');
  });

  it('publishes no port of the apps: clients come through the load balancer, Prometheus over the network', () => {
    for (const name of Object.keys(appCommands)) expect(service(name).ports, name).toBeUndefined();
    // So one hop, nginx, is all TRUST_PROXY may trust; and the metrics port is not the one nginx forwards to.
    expect(loadConfig(env('api')).http.trustProxy).toBe(1);
    expect(env('api').METRICS_PORT).not.toBe(env('api').PORT);
    expect(readText('observability/nginx.conf')).not.toMatch(new RegExp(`api:${env('api').METRICS_PORT}`));
  });

  it('wires the addresses together: database, mail, traces, scrapes, load balancer, Grafana', () => {
    const pg = service('postgres').environment ?? {};
    const dbUrl = new URL(env('api').DATABASE_URL ?? '');
    expect([dbUrl.hostname, dbUrl.port, dbUrl.username, dbUrl.password, dbUrl.pathname]).toEqual([
      'postgres',
      '5432',
      pg.POSTGRES_USER,
      pg.POSTGRES_PASSWORD,
      `/${pg.POSTGRES_DB}`,
    ]);
    expect(env('worker').DATABASE_URL).toBe(env('api').DATABASE_URL);
    expect(env('migrate').DATABASE_URL).toBe(env('api').DATABASE_URL);
    // Mailpit's SMTP port.
    expect(env('worker').SMTP_URL).toBe('smtp://mailpit:1025');

    // Traces: apps → collector (OTLP/HTTP) → Tempo (OTLP/gRPC) ← Grafana.
    const collector = readYaml<{
      receivers: { otlp: { protocols: Record<string, { endpoint: string }> } };
      exporters: { otlp: { endpoint: string } };
      service: { pipelines: { traces: { processors: string[] } } };
    }>('observability/otel-collector.yaml');
    const otlpHttpPort = collector.receivers.otlp.protocols.http?.endpoint.split(':')[1];
    expect(env('api').OTEL_EXPORTER_OTLP_ENDPOINT).toBe(`http://otel-collector:${otlpHttpPort}`);
    expect(collector.service.pipelines.traces.processors).toEqual(['memory_limiter', 'batch']);
    const tempo = readYaml<{
      server: { http_listen_port: number };
      distributor: { receivers: { otlp: { protocols: Record<string, { endpoint: string }> } } };
      storage: { trace: { backend: string } };
    }>('observability/tempo.yaml');
    const tempoGrpcPort = tempo.distributor.receivers.otlp.protocols.grpc?.endpoint.split(':')[1];
    expect(collector.exporters.otlp.endpoint).toBe(`tempo:${tempoGrpcPort}`);
    expect(tempo.storage.trace.backend).toBe('local');
    const datasources = readYaml<{ datasources: { type: string; url: string }[] }>(
      'observability/grafana/provisioning/datasources/datasources.yml',
    ).datasources;
    expect(datasources.find((d) => d.type === 'tempo')?.url).toBe(`http://tempo:${tempo.server.http_listen_port}`);

    // Logs: apps → collector (OTLP) → Loki's OTLP endpoint ← Grafana, with trace ↔ log links both ways.
    const collectorLogs = readYaml<{
      exporters: Record<string, { endpoint: string }>;
      service: { pipelines: { logs: { receivers: string[]; processors: string[]; exporters: string[] } } };
    }>('observability/otel-collector.yaml');
    expect(collectorLogs.service.pipelines.logs).toEqual({
      receivers: ['otlp'],
      processors: ['memory_limiter', 'batch'],
      exporters: ['otlphttp/loki'],
    });
    const loki = readYaml<{ server: { http_listen_port: number } }>('observability/loki.yaml');
    expect(collectorLogs.exporters['otlphttp/loki']?.endpoint).toBe(`http://loki:${loki.server.http_listen_port}/otlp`);
    expect(service('loki').volumes).toContain('./observability/loki.yaml:/etc/loki/loki.yaml:ro');
    const lokiSource = readYaml<{
      datasources: { uid: string; type: string; url: string; jsonData?: Record<string, unknown> }[];
    }>('observability/grafana/provisioning/datasources/datasources.yml').datasources;
    expect(lokiSource.find((d) => d.type === 'loki')?.url).toBe(`http://loki:${loki.server.http_listen_port}`);
    const derived = lokiSource.find((d) => d.type === 'loki')?.jsonData?.derivedFields as { datasourceUid: string }[];
    expect(derived?.[0]?.datasourceUid).toBe('tempo');
    expect(
      (lokiSource.find((d) => d.type === 'tempo')?.jsonData?.tracesToLogsV2 as { datasourceUid: string })
        ?.datasourceUid,
    ).toBe('loki');

    // Scrapes: Prometheus finds every API replica's metrics listener and the worker on their ports.
    const prometheus = readYaml<{
      scrape_configs: { job_name: string; dns_sd_configs?: { names: string[]; port: number }[] }[];
    }>('observability/prometheus/prometheus.yml');
    const job = (name: string) => prometheus.scrape_configs.find((j) => j.job_name === name)?.dns_sd_configs?.[0];
    expect(job('keelson-api')).toMatchObject({ names: ['api'], port: Number(env('api').METRICS_PORT) });
    expect(job('keelson-worker')).toMatchObject({ names: ['worker'], port: Number(env('worker').WORKER_HTTP_PORT) });
    const mounts = service('prometheus').volumes ?? [];
    expect(mounts).toContain('./observability/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    expect(mounts).toContain('./observability/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro');
    expect(service('prometheus').command).toContain('--enable-feature=exemplar-storage');

    // Alerts: Prometheus → Alertmanager → mail through Mailpit and a post to the webhook service.
    const alerting = readYaml<{ alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] } }>(
      'observability/prometheus/prometheus.yml',
    ).alerting;
    expect(alerting.alertmanagers[0]?.static_configs[0]?.targets).toEqual(['alertmanager:9093']);
    expect(service('alertmanager').ports).toContain('9093:9093');
    expect(service('alertmanager').volumes).toContain(
      './observability/alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro',
    );
    const am = readYaml<{
      global: { smtp_smarthost: string };
      receivers: { name: string; webhook_configs?: { url: string }[]; email_configs?: unknown[] }[];
    }>('observability/alertmanager/alertmanager.yml');
    expect(am.global.smtp_smarthost).toBe(env('worker').SMTP_URL?.replace('smtp://', ''));
    const webhook = new URL(am.receivers[0]?.webhook_configs?.[0]?.url ?? '');
    expect(webhook.hostname).toBe('alert-webhook');
    expect(webhook.port).toBe(service('alert-webhook').environment?.HTTP_PORT);
    expect(am.receivers[0]?.email_configs?.length).toBe(1);

    // Health checks probe the ports the processes listen on.
    expect(service('api').healthcheck?.test?.join(' ')).toContain(`127.0.0.1:${env('api').PORT}/healthz`);
    expect(service('worker').healthcheck?.test?.join(' ')).toContain(
      `127.0.0.1:${env('worker').WORKER_HTTP_PORT}/healthz`,
    );

    // The load balancer forwards to the API service's port.
    expect(service('lb').volumes).toContain('./observability/nginx.conf:/etc/nginx/nginx.conf:ro');
    expect(readText('observability/nginx.conf')).toContain(`set $api http://api:${env('api').PORT};`);

    const grafana = service('grafana').environment ?? {};
    expect(grafana.GF_AUTH_ANONYMOUS_ENABLED).toBe('true');
    expect(grafana.GF_AUTH_ANONYMOUS_ORG_ROLE).toBe('Viewer');
    expect(service('grafana').volumes).toContain('./observability/grafana/provisioning:/etc/grafana/provisioning:ro');
  });

  it("runs compose's commands natively, in its order: migrate an empty database, then API and worker are ready", {
    timeout: 120_000,
  }, async () => {
    // An empty database next to this file's own (whose role may create databases), as a fresh deploy has.
    await using own = await testDatabase();
    const name = `compose_${randomBytes(4).toString('hex')}`;
    await sql(own.url, `create database ${name}`);
    const url = new URL(own.url);
    url.pathname = `/${name}`;
    // Compose's environment with the addresses of this machine; SMTP and OTLP endpoints are not running.
    const native = (service: string, overrides: Record<string, string>) => {
      const { SMTP_URL: _smtp, OTEL_EXPORTER_OTLP_ENDPOINT: _otlp, ...rest } = env(service);
      return { ...rest, DATABASE_URL: url.toString(), LOG_LEVEL: 'info', ...overrides };
    };
    const run = (service: keyof typeof appCommands, overrides: Record<string, string>) => {
      // `node [flags...] <entry>.ts [args...]`: flags such as `--import @keelson/telemetry/register` go to Node.
      const [node, ...rest] = services[service]?.command ?? [];
      expect(node).toBe('node');
      const at = rest.findIndex((a) => a.endsWith('.ts'));
      return startProcess(rest[at] ?? '', native(service, overrides), {
        nodeArgs: rest.slice(0, at),
        args: rest.slice(at + 1),
      });
    };
    try {
      await using migrate = run('migrate', {});
      if (migrate.child.exitCode === null) await once(migrate.child, 'exit');
      expect(migrate.child.exitCode, migrate.output()).toBe(0);
      expect(migrate.output()).toMatch(/Applied: /);

      const apiPort = await freePort();
      const metricsPort = await freePort();
      const workerPort = await freePort();
      await using api = run('api', {
        HOST: '127.0.0.1',
        PORT: String(apiPort),
        METRICS_HOST: '127.0.0.1',
        METRICS_PORT: String(metricsPort),
      });
      await using worker = run('worker', { WORKER_HTTP_HOST: '127.0.0.1', WORKER_HTTP_PORT: String(workerPort) });
      await api.waitFor(/api listening/, 30_000);
      await worker.waitFor(/worker http listening/, 30_000);
      const probed = [
        [`http://127.0.0.1:${apiPort}`, `http://127.0.0.1:${metricsPort}`],
        [`http://127.0.0.1:${workerPort}`, `http://127.0.0.1:${workerPort}`],
      ];
      for (const [base, scraped] of probed) {
        await eventually(async () => (await fetch(`${base}/readyz`)).ok, 30_000);
        const metrics = await fetch(`${scraped}/metrics`);
        expect(metrics.status).toBe(200);
        expect(await metrics.text()).toContain('nodejs_heap_size_used_bytes');
      }
      expect((await fetch(`http://127.0.0.1:${apiPort}/metrics`)).status).toBe(404);
      expect((await api.stop()).code).toBe(0);
      expect((await worker.stop()).code).toBe(0);
    } finally {
      await sql(own.url, `drop database if exists ${name} with (force)`);
    }
  });
});
