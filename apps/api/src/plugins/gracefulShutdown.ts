/**
 * Deploys lose nothing. `app.stop()` first serves on while `/readyz` answers 503, for
 * SHUTDOWN_DRAIN_DELAY_MS, so that a load balancer stops routing here; then it stops accepting
 * connections and lets the requests in flight finish for HTTP_SHUTDOWN_GRACE_MS, answering each with
 * `Connection: close` so keep-alive sockets end with their last response. Only what still runs after the
 * grace is cut. Realtime streams are told to reconnect elsewhere (the WebSocket plugin's preClose, the
 * SSE shutdown), and the app's onClose hooks run before `stop()` resolves.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** True from the start of `stop()`: `/readyz` answers 503 and responses close their connection. */
    readonly draining: boolean;
    /** Drains, then closes the app; resolves with how many requests the grace had to cut. */
    stop(): Promise<{ cut: number }>;
  }
}

export interface GracefulShutdownOptions {
  drainDelayMs: number;
  graceMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function gracefulShutdown(app: FastifyInstance, opts: GracefulShutdownOptions) {
  let draining = false;
  let stopping: Promise<{ cut: number }> | undefined;
  // Requests not answered yet, only to report how many the grace cut.
  const unanswered = new Set<object>();
  app.decorate('draining', { getter: () => draining });
  app.addHook('onRequest', async (req, reply) => {
    // An upgraded WebSocket is no request in flight: it is told to reconnect (preClose) or terminated.
    if (req.headers.upgrade) return;
    unanswered.add(req.raw);
    reply.raw.once('close', () => unanswered.delete(req.raw));
  });
  app.addHook('onSend', async (_req, reply) => {
    if (draining) reply.header('connection', 'close');
  });

  app.decorate('stop', () => {
    stopping ??= (async () => {
      draining = true;
      app.log.info({ drainDelayMs: opts.drainDelayMs, graceMs: opts.graceMs }, 'draining: not ready any more');
      if (opts.drainDelayMs > 0) await sleep(opts.drainDelayMs);
      let cut = 0;
      const grace = setTimeout(() => {
        cut = unanswered.size;
        if (cut) app.log.warn({ requests: cut }, 'shutdown grace ran out: cutting the requests still running');
        app.server.closeAllConnections();
        // Upgraded sockets are no HTTP connections any more: a client that never answers the close frame
        // (a phone asleep) would hold `close()` for ws's 30 s.
        for (const socket of app.websocketServer?.clients ?? []) socket.terminate();
      }, opts.graceMs);
      try {
        // Stops accepting; Node closes idle keep-alive sockets at once and waits for the others.
        await app.close();
      } finally {
        clearTimeout(grace);
      }
      return { cut };
    })();
    return stopping;
  });
}

export default fp(gracefulShutdown, { name: 'keelson-graceful-shutdown', fastify: '5.x' });
