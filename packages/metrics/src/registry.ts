/**
 * What the API's and the worker's metrics have in common: a registry of their own (never prom-client's
 * global one: tests build several apps in one process) with the default process metrics, the database
 * pool gauge, and rendering for a scrape in the format it asks for.
 */
import { collectDefaultMetrics, Gauge, Registry, type RegistryContentType } from 'prom-client';

/** The counters a `pg.Pool` keeps; a pool is passed as is. */
export interface PoolCounts {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  /** The pool's ceiling (`pg.Pool` keeps it in `options.max`). */
  options?: { max?: number };
}

/** Returns a pool at scrape time (a function, as MikroORM hands its pool out asynchronously); null skips it. */
export type PoolSource = () => PoolCounts | null | Promise<PoolCounts | null>;

export interface Scrape {
  contentType: string;
  body: string;
}

export interface ProcessMetrics {
  readonly registry: Registry<RegistryContentType>;
  /**
   * Adds a pool to `keelson_db_pool_connections`. A process with several pools (the worker: the ORM's
   * and graphile-worker's) reports their sum: the label set is fixed by the metric contract.
   */
  trackPool(source: PoolSource): void;
  /** The registry rendered for a scrape whose `Accept` header is given (see `wantsOpenMetrics`). */
  scrape(accept: string | undefined): Promise<Scrape>;
}

/** q of the best media range in `accept` that `match` accepts; 0 if none does. */
function bestQuality(accept: string, match: (type: string) => boolean): number {
  let best = 0;
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';').map((s) => s.trim().toLowerCase());
    if (!match(type)) continue;
    const q = params.find((p) => p.startsWith('q='));
    const quality = q ? Number(q.slice(2)) : 1;
    if (Number.isFinite(quality) && quality > best) best = quality;
  }
  return best;
}

/**
 * OpenMetrics when the scraper prefers it (Prometheus asks for it first by default), since only that
 * format carries exemplars; the Prometheus text format otherwise, and when there is no Accept header.
 */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  const openMetrics = bestQuality(accept, (t) => t === 'application/openmetrics-text');
  const text = bestQuality(accept, (t) => t === 'text/plain' || t === 'text/*' || t === '*/*');
  return openMetrics > 0 && openMetrics >= text;
}

/**
 * prom-client renders a registry in the one format it is set to, and takes exemplars only on a registry
 * built for OpenMetrics. Setting the format per scrape is not enough: rendering OpenMetrics renames every
 * counter in place (drops its `_total`), which a later Prometheus-format scrape would then expose without
 * the suffix. So scrapes run one at a time, and every name is put back after each.
 */
function scraper(registry: Registry<RegistryContentType>): (accept: string | undefined) => Promise<Scrape> {
  let queue: Promise<unknown> = Promise.resolve();
  const render = async (openMetrics: boolean): Promise<Scrape> => {
    const contentType = openMetrics ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE;
    const names = registry.getMetricsAsArray().map((metric) => [metric, metric.name] as const);
    registry.setContentType(contentType);
    try {
      return { contentType, body: await registry.metrics() };
    } finally {
      for (const [metric, name] of names) metric.name = name;
    }
  };
  return (accept) => {
    const result = queue.then(() => render(wantsOpenMetrics(accept)));
    queue = result.catch(() => {});
    return result;
  };
}

const DROPPED_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export function createProcessMetrics(): ProcessMetrics {
  const registry = new Registry<RegistryContentType>();
  // prom-client accepts histograms with exemplars only into a registry set to OpenMetrics.
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  collectDefaultMetrics({ register: registry });
  // Gauges named like counters, which promtool (and Prometheus' own conventions) reject; each is the
  // sum of a `nodejs_active_*` gauge kept beside it, with the same count split by type.
  for (const name of DROPPED_DEFAULT_METRICS) registry.removeSingleMetric(name);
  const pools: PoolSource[] = [];
  new Gauge({
    name: 'keelson_db_pool_connections',
    help: "Connections of this process's PostgreSQL pools: in_use (checked out or connecting), idle, waiting (callers queued at the pool's maximum beyond its idle connections)",
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      let inUse = 0;
      let idle = 0;
      let waiting = 0;
      for (const source of pools) {
        // A pool that cannot be reached (the ORM connecting while the database is down) is left out:
        // the scrape must still answer, since that is when the other metrics matter most.
        const pool = await Promise.resolve()
          .then(source)
          .catch(() => null);
        if (!pool) continue;
        inUse += pool.totalCount - pool.idleCount;
        idle += pool.idleCount;
        // pg-pool queues even a caller it is about to hand an idle connection, or a new one (until its
        // next tick), so every scrape whose own queries check one out read `waiting 1` on an idle
        // process. Waiting means a pool at its maximum with more callers than idle connections.
        const full = pool.options?.max === undefined || pool.totalCount >= pool.options.max;
        if (full) waiting += Math.max(0, pool.waitingCount - pool.idleCount);
      }
      this.set({ state: 'in_use' }, inUse);
      this.set({ state: 'idle' }, idle);
      this.set({ state: 'waiting' }, waiting);
    },
  });
  return { registry, trackPool: (source) => void pools.push(source), scrape: scraper(registry) };
}
