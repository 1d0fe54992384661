/**
 * A PostgreSQL LISTEN connection that survives: one dedicated client per process (never a pooled one,
 * whose LISTEN would be lost when the pool recycles it), reconnected with exponential back-off and
 * jitter whenever it drops (server restart, failover, `pg_terminate_backend`, network loss).
 *
 * Notifications sent while it was down are lost for good: PostgreSQL keeps none for absent listeners.
 * `onConnect` therefore says whether it is a reconnection, so users rebuild whatever the missed
 * notifications would have told them (the catalogue cache starts empty; a subscription back-fills).
 */
import pg from 'pg';

export interface ListenerNotification {
  channel: string;
  payload: string;
}

export interface ListenerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface ListenerOptions {
  /** PostgreSQL connection string. */
  url: string;
  /** Channels to LISTEN on; plain identifiers (`keelson_catalog`). */
  channels: readonly string[];
  onNotification(notification: ListenerNotification): void;
  /**
   * Called each time LISTEN is in place: first with `reconnect: false`, then with `true` after every
   * gap (notifications of the gap were missed).
   */
  onConnect?(info: { reconnect: boolean }): void;
  /** Called when the connection drops; nothing is heard until the next `onConnect`. */
  onDisconnect?(error: Error | undefined): void;
  logger?: ListenerLogger;
  /** First reconnection delay, milliseconds; doubled per failure. Default 100. */
  initialBackoffMs?: number;
  /** Longest reconnection delay, milliseconds. Default 5000. */
  maxBackoffMs?: number;
  /**
   * How often the connection proves it is alive with a query, milliseconds; no answer within as long again
   * drops it. Default 30000.
   */
  heartbeatMs?: number;
  /** Shown in `pg_stat_activity`. Default `keelson-listener`. */
  applicationName?: string;
}

export interface Listener {
  /**
   * Makes the first connection attempt and resolves once it succeeded or failed; a failure is retried
   * in the background like any later drop, so a process can start while the database is briefly away.
   */
  start(): Promise<void>;
  /** Stops listening and reconnecting. */
  close(): Promise<void>;
  /** Whether LISTEN is currently in place. */
  readonly connected: boolean;
  /** The server process id of the current connection, or null (for diagnostics and tests). */
  readonly backendPid: number | null;
}

const CHANNEL = /^[a-z_][a-z0-9_]*$/;

/**
 * Ends a client at once: `end()` waits for the server's goodbye, which a silent connection never sends.
 * pg itself destroys the stream this way on its connection timeout.
 */
function destroy(c: pg.Client, error?: Error) {
  (c as unknown as { connection?: { stream?: { destroy(error?: Error): void } } }).connection?.stream?.destroy(error);
}

export function createListener(opts: ListenerOptions): Listener {
  for (const channel of opts.channels) {
    if (!CHANNEL.test(channel)) throw new Error(`Invalid channel name: ${channel}`);
  }
  const initialBackoff = opts.initialBackoffMs ?? 100;
  const maxBackoff = opts.maxBackoffMs ?? 5_000;
  const heartbeatMs = opts.heartbeatMs ?? 30_000;
  let heartbeat: NodeJS.Timeout | null = null;
  let client: pg.Client | null = null;
  let connected = false;
  let everConnected = false;
  let closed = false;
  let failures = 0;
  let timer: NodeJS.Timeout | null = null;
  let attempt: Promise<void> | null = null;

  const scheduleReconnect = () => {
    if (closed || timer) return;
    const delay = Math.min(maxBackoff, initialBackoff * 2 ** failures);
    failures++;
    // Jitter spreads the reconnections of many processes after a database restart.
    timer = setTimeout(
      () => {
        timer = null;
        void connect();
      },
      delay / 2 + Math.random() * (delay / 2),
    );
    timer.unref();
  };

  const dropped = (c: pg.Client, error: Error | undefined) => {
    if (client !== c) return; // an old client's late event
    client = null;
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = null;
    c.removeAllListeners('notification');
    // A client that emitted 'error' is unusable; end it quietly (errors after this are expected).
    c.on('error', () => {});
    destroy(c, error);
    if (connected) {
      connected = false;
      opts.logger?.warn({ err: error }, 'listener connection lost; reconnecting');
      opts.onDisconnect?.(error);
    }
    scheduleReconnect();
  };

  const connect = async (): Promise<void> => {
    if (closed || client) return;
    const c = new pg.Client({
      connectionString: opts.url,
      keepAlive: true,
      application_name: opts.applicationName ?? 'keelson-listener',
    });
    client = c;
    c.on('error', (err) => dropped(c, err));
    c.on('end', () => dropped(c, undefined));
    c.on('notification', (n) => {
      if (client === c && connected) opts.onNotification({ channel: n.channel, payload: n.payload ?? '' });
    });
    try {
      await c.connect();
      for (const channel of opts.channels) await c.query(`listen ${c.escapeIdentifier(channel)}`);
    } catch (err) {
      opts.logger?.warn({ err, failures }, 'listener could not connect; retrying');
      dropped(c, err as Error);
      return;
    }
    if (closed || client !== c) {
      void c.end().catch(() => {});
      return;
    }
    connected = true;
    failures = 0;
    // A LISTEN connection is idle between notifications, and a middlebox (NAT, firewall, load balancer)
    // that forgets an idle connection closes nothing: without a query of our own, we would hear nothing
    // for as long as TCP keep-alive takes to notice (two hours by default) and every event would wait.
    heartbeat = setInterval(() => {
      c.query({ text: 'select 1', query_timeout: heartbeatMs } as pg.QueryConfig).catch((err: Error) =>
        dropped(c, err),
      );
    }, heartbeatMs);
    heartbeat.unref();
    const reconnect = everConnected;
    everConnected = true;
    if (reconnect) opts.logger?.info({ channels: opts.channels }, 'listener reconnected');
    opts.onConnect?.({ reconnect });
  };

  return {
    start() {
      attempt ??= connect();
      return attempt;
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      if (heartbeat) clearInterval(heartbeat);
      heartbeat = null;
      const c = client;
      client = null;
      connected = false;
      if (c) {
        c.removeAllListeners();
        c.on('error', () => {});
        // Bounded: a connection gone silent would never answer the goodbye, and hold up shutdown.
        const ending = c.end().catch(() => {});
        const timer = setTimeout(() => destroy(c), 1_000);
        await ending;
        clearTimeout(timer);
      }
    },
    get connected() {
      return connected;
    },
    get backendPid() {
      return connected ? ((client as unknown as { processID?: number } | null)?.processID ?? null) : null;
    },
  };
}
