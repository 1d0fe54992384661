import type { MikroORM } from '@keelson/db';

/** What a procedure needs to log; pino's Logger fits, and so does anything with these methods. */
export interface ContextLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ContextDeps {
  orm: MikroORM;
  logger: ContextLogger;
}

/**
 * Per-request context. The EntityManager is not here: a middleware forks one per procedure call, so the
 * calls of one HTTP batch never share an identity map.
 */
export interface Context {
  orm: MikroORM;
  logger: ContextLogger;
  /** Correlates the client's error message with logs and traces. */
  requestId: string;
}

export function createContext(deps: ContextDeps, req: { requestId: string; logger?: ContextLogger }): Context {
  return { orm: deps.orm, logger: req.logger ?? deps.logger, requestId: req.requestId };
}
