import { ConfigError, configVariables, loadConfig, requireDatabaseUrl } from '@keelson/config';
import { describe, expect, it } from 'vitest';

describe('loadConfig', () => {
  it('has a working default for everything but the database', () => {
    const config = loadConfig({});
    expect(config.http).toMatchObject({ host: '127.0.0.1', port: 3000, trustProxy: false, maxBatchSize: 50 });
    expect(config.http.requestTimeoutMs).toBeGreaterThan(0);
    expect(config.database.url).toBeUndefined();
    expect(() => requireDatabaseUrl(config)).toThrow(/DATABASE_URL is not set/);
  });

  it('names every invalid variable', () => {
    expect(() => loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', WORKER_CONCURRENCY: '0' })).toThrow(
      ConfigError,
    );
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', WORKER_CONCURRENCY: '0' });
    } catch (err) {
      const message = (err as Error).message;
      for (const name of ['PORT', 'DATABASE_URL', 'WORKER_CONCURRENCY']) expect(message).toContain(name);
    }
  });

  it.each([
    ['false', false],
    ['0', false],
    ['2', 2],
    ['10.0.0.0/8, 127.0.0.1', ['10.0.0.0/8', '127.0.0.1']],
    ['loopback,uniquelocal,linklocal', ['loopback', 'uniquelocal', 'linklocal']],
    ['fd00::/8,::1,192.168.1.10/32', ['fd00::/8', '::1', '192.168.1.10/32']],
  ])('parses TRUST_PROXY=%s', (raw, expected) => {
    expect(loadConfig({ TRUST_PROXY: raw }).http.trustProxy).toEqual(expected);
  });

  it('refuses a TRUST_PROXY that would believe any client, saying what to set instead', () => {
    for (const raw of ['true', 'TRUE', '0.0.0.0/0', '10.0.0.1,::/0']) {
      expect(() => loadConfig({ TRUST_PROXY: raw }), raw).toThrow(
        /TRUST_PROXY: .*(`true`|every address).*; set the number of proxies in front of the API \(e\.g\. 1\) or their addresses/,
      );
    }
    expect(() => loadConfig({ TRUST_PROXY: 'true' })).toThrow(/pick their own IP/);
  });

  it.each([
    ['nginx', /"nginx" is neither an IP address, a CIDR range nor one of loopback, linklocal, uniquelocal/],
    ['10.0.0.0/33', /"10.0.0.0\/33" is neither/],
    ['::1/129', /"::1\/129" is neither/],
    ['10.0.0.0/8/8', /"10.0.0.0\/8\/8" is neither/],
    ['11', /11 hops is more than any chain of proxies/],
    ['-1', /"-1" is neither/],
  ])('refuses TRUST_PROXY=%s, naming the variable', (raw, message) => {
    expect(() => loadConfig({ TRUST_PROXY: raw })).toThrow(new RegExp(`TRUST_PROXY: ${message.source}`));
  });

  it('allows the origin of PUBLIC_URL and the http(s) origins of ALLOWED_ORIGINS, nothing opaque', () => {
    const config = loadConfig({
      PUBLIC_URL: 'https://shop.example/',
      ALLOWED_ORIGINS: 'http://localhost:5173, https://admin.shop.example/ignored/path',
    });
    expect(config.auth.allowedOrigins).toEqual([
      'https://shop.example',
      'http://localhost:5173',
      'https://admin.shop.example',
    ]);
    // Their origin would be `null`, which any sandboxed frame sends.
    for (const raw of ['file:///tmp/app.html', 'data:text/html,x', '*', 'shop.example']) {
      expect(() => loadConfig({ ALLOWED_ORIGINS: raw }), raw).toThrow(/ALLOWED_ORIGINS: expected .*http\(s\) origins/);
    }
  });

  it('serves metrics on a loopback listener of their own by default, without a token', () => {
    expect(loadConfig({}).metrics).toEqual({ host: '127.0.0.1', port: 9464, token: null });
    const token = 'f'.repeat(64);
    expect(loadConfig({ METRICS_HOST: '0.0.0.0', METRICS_PORT: '0', METRICS_TOKEN: token }).metrics).toEqual({
      host: '0.0.0.0',
      port: 0,
      token,
    });
  });

  it('refuses a short or blank METRICS_TOKEN without echoing it, and metrics on the public port', () => {
    for (const bad of ['', 'short', `${'a'.repeat(40)} ${'b'.repeat(10)}`]) {
      const message = (() => {
        try {
          loadConfig({ METRICS_TOKEN: bad });
          return 'accepted';
        } catch (e) {
          return (e as Error).message;
        }
      })();
      expect(message, JSON.stringify(bad)).toMatch(/METRICS_TOKEN: expected at least 32 printable characters/);
      if (bad) expect(message).not.toContain(bad);
    }
    expect(() => loadConfig({ PORT: '8080', METRICS_PORT: '8080' })).toThrow(/METRICS_PORT: must differ from PORT/);
    expect(() => loadConfig({ METRICS_PORT: '70000' })).toThrow(/METRICS_PORT/);
    expect(loadConfig({ PORT: '0', METRICS_PORT: '0' }).metrics.port).toBe(0);
  });

  it('reads the worker settings, with a task allow-list', () => {
    const { worker } = loadConfig({ WORKER_TASKS: 'email__order_status, payment__capture', WORKER_HTTP_PORT: '0' });
    expect(worker).toMatchObject({
      tasks: ['email__order_status', 'payment__capture'],
      shutdownGraceMs: 5000,
      heartbeatIntervalMs: 10_000,
      deadAfterMs: 60_000,
      http: { host: '127.0.0.1', port: 0 },
    });
    expect(loadConfig({}).worker.tasks).toBeNull();
  });

  it('keeps the worker shutdown grace inside SHUTDOWN_TIMEOUT_MS', () => {
    expect(() => loadConfig({ SHUTDOWN_TIMEOUT_MS: '5000', WORKER_SHUTDOWN_GRACE_MS: '4500' })).toThrow(
      /WORKER_SHUTDOWN_GRACE_MS: must leave at least 1000 ms of SHUTDOWN_TIMEOUT_MS/,
    );
    expect(loadConfig({ SHUTDOWN_TIMEOUT_MS: '5000', WORKER_SHUTDOWN_GRACE_MS: '4000' }).worker.shutdownGraceMs).toBe(
      4000,
    );
  });

  it("fits the API's drain delay and request grace inside SHUTDOWN_TIMEOUT_MS", () => {
    expect(loadConfig({}).httpShutdown).toEqual({ drainDelayMs: 0, graceMs: 7000 });
    expect(loadConfig({ SHUTDOWN_TIMEOUT_MS: '20000', SHUTDOWN_DRAIN_DELAY_MS: '5000' }).httpShutdown).toEqual({
      drainDelayMs: 5000,
      graceMs: 14_000,
    });
    expect(() => loadConfig({ SHUTDOWN_DRAIN_DELAY_MS: '7500' })).toThrow(
      /SHUTDOWN_DRAIN_DELAY_MS: must leave at least 1000 ms of SHUTDOWN_TIMEOUT_MS \(8000\)/,
    );
    expect(() => loadConfig({ SHUTDOWN_DRAIN_DELAY_MS: '2000', HTTP_SHUTDOWN_GRACE_MS: '6000' })).toThrow(
      /SHUTDOWN_DRAIN_DELAY_MS \+ HTTP_SHUTDOWN_GRACE_MS: must leave at least 1000 ms/,
    );
    expect(loadConfig({ HTTP_SHUTDOWN_GRACE_MS: '3000' }).httpShutdown.graceMs).toBe(3000);
  });

  it('calls a worker dead only after several missed heartbeats', () => {
    expect(() => loadConfig({ WORKER_HEARTBEAT_INTERVAL_MS: '1000', WORKER_DEAD_AFTER_MS: '2000' })).toThrow(
      /WORKER_DEAD_AFTER_MS: must be at least 3 times/,
    );
  });

  it('reads the dashboard cadence: 3 s by default, 500 ms to 10 min', () => {
    expect(loadConfig({}).dashboard.intervalMs).toBe(3000);
    expect(loadConfig({ DASHBOARD_INTERVAL_MS: '500' }).dashboard.intervalMs).toBe(500);
    for (const bad of ['499', '600001', 'often']) {
      expect(() => loadConfig({ DASHBOARD_INTERVAL_MS: bad })).toThrow(/DASHBOARD_INTERVAL_MS/);
    }
  });

  it('reads the realtime limits, with defaults, and refuses a limit of zero', () => {
    expect(loadConfig({}).realtime).toEqual({
      authRecheckMs: 2000,
      maxSubscriptionsPerConnection: 100,
      maxConnectionsPerUser: 20,
      maxConnectionsPerIp: 200,
    });
    expect(
      loadConfig({ SUBSCRIPTION_AUTH_RECHECK_MS: '500', REALTIME_MAX_CONNECTIONS_PER_USER: '3' }).realtime,
    ).toMatchObject({ authRecheckMs: 500, maxConnectionsPerUser: 3 });
    expect(() =>
      loadConfig({
        SUBSCRIPTION_AUTH_RECHECK_MS: '0',
        WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: '0',
        REALTIME_MAX_CONNECTIONS_PER_USER: 'many',
        REALTIME_MAX_CONNECTIONS_PER_IP: '-1',
      }),
    ).toThrow(
      /SUBSCRIPTION_AUTH_RECHECK_MS[\s\S]*WS_MAX_SUBSCRIPTIONS_PER_CONNECTION[\s\S]*REALTIME_MAX_CONNECTIONS_PER_USER[\s\S]*REALTIME_MAX_CONNECTIONS_PER_IP/,
    );
  });

  it('rejects a short seeded admin password', () => {
    expect(() => loadConfig({ SEED_ADMIN_PASSWORD: 'short' })).toThrow(/SEED_ADMIN_PASSWORD/);
  });
});

describe('docs/configuration.md table', () => {
  it('documents every variable', async () => {
    const { readFile } = await import('node:fs/promises');
    const readme = await readFile(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    for (const name of configVariables) expect(readme, name).toMatch(new RegExp(`^\\| \`${name}\` +\\|`, 'm'));
  });
});
