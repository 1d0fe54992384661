// autocannon ships no types; this covers only the programmatic API the harness uses.
declare module 'autocannon' {
  interface Request {
    method?: string;
    path?: string;
  }
  interface Options {
    url: string;
    connections?: number;
    /** Seconds. */
    duration?: number;
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
  }
  export default function autocannon(opts: Options): Instance;
}
