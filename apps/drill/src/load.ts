/**
 * Shoppers as the API's users are: each from an address of its own (127.x.y.z), on a keep-alive
 * connection, browsing, adding to its cart, checking out with an idempotency key and reading the order.
 * A checkout is retried with the same key on 503 and on connection errors, as a client is told to, until
 * it gets a definitive answer: so "nothing lost" is checkable. Every request is recorded.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { sleep } from './stack.ts';

export interface Shopper {
  token: string;
  /** Source address of its connections. */
  ip: string;
}

export interface RequestRecord {
  op: string;
  /** `performance.now()` when the request was sent, and when its answer (or failure) came. */
  start: number;
  end: number;
  /** 0: no HTTP answer (refused, reset, timed out). */
  status: number;
  appCode: string | null;
  error: string | null;
}

export interface CheckoutRecord {
  key: string;
  orderId: string | null;
  /** `ordered`, the business refusal's app code, or `gave up` (no definitive answer in time). */
  outcome: string;
  attempts: number;
}

export interface Load {
  records: RequestRecord[];
  checkouts: CheckoutRecord[];
  /** Orders read back whose status is not the last entry of their own history. */
  inconsistentReads: { orderId: string; status: string; last: string | undefined }[];
  /** Stops starting new work and resolves when every shopper's current step has ended. */
  stop(): Promise<void>;
}

export interface LoadOptions {
  baseUrl: string;
  shoppers: Shopper[];
  productIds: string[];
  /** A checkout without a definitive answer after this long counts as lost. */
  giveUpMs: number;
  /** A request without an answer after this long is abandoned (and recorded as status 0). */
  requestTimeoutMs: number;
}

interface TrpcAnswer {
  status: number;
  data: unknown;
  appCode: string | null;
  retryAfterS: number | null;
}

/** One tRPC call (superjson's wire format, `{ json }`), or a rejection when no HTTP answer came. */
function call(
  client: { agent: Agent; shopper: Shopper; opts: LoadOptions },
  op: { path: string; mutation?: boolean; input?: unknown },
): Promise<TrpcAnswer> {
  const { agent, shopper, opts } = client;
  const encoded = JSON.stringify({ json: op.input ?? null });
  const url = new URL(`/trpc/${op.path}`, opts.baseUrl);
  if (!op.mutation) url.searchParams.set('input', encoded);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        agent,
        method: op.mutation ? 'POST' : 'GET',
        timeout: opts.requestTimeoutMs,
        headers: {
          authorization: `Bearer ${shopper.token}`,
          ...(op.mutation ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(encoded) } : {}),
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('error', reject);
        res.on('end', () => {
          let parsed: {
            result?: { data?: { json?: unknown } };
            error?: { json?: { data?: { appCode?: string | null } } };
          } = {};
          try {
            parsed = JSON.parse(body);
          } catch {}
          const retryAfter = Number(res.headers['retry-after']);
          resolve({
            status: res.statusCode ?? 0,
            data: parsed.result?.data?.json,
            appCode: parsed.error?.json?.data?.appCode ?? null,
            retryAfterS: Number.isFinite(retryAfter) ? retryAfter : null,
          });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${opts.requestTimeoutMs} ms`)));
    req.on('error', reject);
    req.end(op.mutation ? encoded : undefined);
  });
}

const retryable = (a: TrpcAnswer) => a.status === 503 || a.status === 502 || a.status === 504;

export function startLoad(opts: LoadOptions): Load {
  const records: RequestRecord[] = [];
  const checkouts: CheckoutRecord[] = [];
  const inconsistentReads: Load['inconsistentReads'] = [];
  let stopped = false;

  const shop = async (shopper: Shopper, index: number) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, localAddress: shopper.ip });
    const recorded = async (op: { path: string; mutation?: boolean; input?: unknown }) => {
      const start = performance.now();
      try {
        const answer = await call({ agent, shopper, opts }, op);
        records.push({
          op: op.path,
          start,
          end: performance.now(),
          status: answer.status,
          appCode: answer.appCode,
          error: null,
        });
        return answer;
      } catch (err) {
        const error =
          err instanceof Error ? `${(err as { code?: string }).code ?? ''} ${err.message}`.trim() : String(err);
        records.push({ op: op.path, start, end: performance.now(), status: 0, appCode: null, error });
        return null;
      }
    };
    for (let round = 0; !stopped; round++) {
      const productId = opts.productIds[(index + round) % opts.productIds.length];
      await recorded({ path: 'catalog.get', input: { id: productId } });
      const added = await recorded({ path: 'cart.addItem', mutation: true, input: { productId, quantity: 1 } });
      if (added?.status !== 200) {
        await sleep(100);
        continue;
      }
      // Retried with the same key until the answer is definitive, even after `stop()`: a shopper never
      // walks away from a checkout it started.
      const record: CheckoutRecord = { key: randomUUID(), orderId: null, outcome: 'gave up', attempts: 0 };
      checkouts.push(record);
      const deadline = performance.now() + opts.giveUpMs;
      while (performance.now() < deadline) {
        record.attempts++;
        const answer = await recorded({
          path: 'orders.checkout',
          mutation: true,
          input: { idempotencyKey: record.key, paymentToken: 'tok_visa' },
        });
        if (answer && !retryable(answer)) {
          if (answer.status === 200) {
            record.outcome = 'ordered';
            record.orderId = (answer.data as { id: string }).id;
          } else {
            record.outcome = answer.appCode ?? `HTTP ${answer.status}`;
          }
          break;
        }
        await sleep(Math.min(2_000, (answer?.retryAfterS ?? 0.2) * 1000));
      }
      if (record.outcome === 'OUT_OF_STOCK') await recorded({ path: 'cart.clear', mutation: true });
      if (!record.orderId) continue;
      const read = await recorded({ path: 'orders.get', input: { id: record.orderId } });
      const order = read?.status === 200 ? (read.data as { status: string; history: { toStatus: string }[] }) : null;
      const last = order?.history.at(-1)?.toStatus;
      if (order && order.status !== last)
        inconsistentReads.push({ orderId: record.orderId, status: order.status, last });
    }
    agent.destroy();
  };

  const running = opts.shoppers.map((s, i) => shop(s, i));
  return {
    records,
    checkouts,
    inconsistentReads,
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}

/** `n` loopback addresses, one per simulated client: 127.0.1.1, 127.0.1.2, … */
export function clientAddresses(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`);
}
