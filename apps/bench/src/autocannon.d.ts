// autocannon ships no types; this covers only the programmatic API the harness uses.
declare module 'autocannon' {
  interface Request {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string;
    /** Called before each send; returns the request to send (autocannon's per-request hook). */
    setupRequest?: (req: Request) => Request;
  }
  interface Options {
    url: string;
    connections?: number;
    /** Seconds. */
    duration?: number;
    /** Stop after this many requests instead of after `duration`. */
    amount?: number;
    /** Each connection cycles through these in order. */
    requests?: Request[];
  }
  interface Histogram {
    average: number;
    p50: number;
    p99: number;
    total: number;
  }
  interface Result {
    /** Seconds. */
    duration: number;
    errors: number;
    timeouts: number;
    non2xx: number;
    /** Milliseconds. */
    latency: Histogram;
    /** Per-second samples; `total` is the completed-request count. */
    requests: Histogram;
  }
  interface Instance extends PromiseLike<Result> {
    stop(): void;
    /** Emitted for every response received. */
    on(event: 'response', listener: () => void): this;
  }
  export default function autocannon(opts: Options): Instance;
}
