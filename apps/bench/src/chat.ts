/**
 * `pnpm bench:chat [--write]`: support-chat delivery, publish → receive, across two API replicas with
 * 1,000 open conversations, each customer watching their own conversation over a WebSocket to replica A.
 * Side by side in one run, interleaved per message:
 *
 * - **cross**: the staff writes through replica B, the customer receives on A (outbox → sequencer →
 *   NOTIFY → A's hub reads it → A's subscription);
 * - **same**: the staff writes through replica A itself, the customer receives on A.
 *
 * Latency is from the send being issued by the client to the message arriving in the customer's
 * subscription (client-side clocks of one process). Real processes (`apps/api/src/main.ts`, production
 * config), one database; the load generator is this process.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { closeClient, createClient, type KeelsonClient } from '@keelson/client';
import pg from 'pg';
import { openDatabase } from './database.ts';
import { cpuModel, median, revision, table } from './report.ts';

const DOC = new URL('../../../docs/benchmarks.md', import.meta.url);
const log = (line: string) => process.stderr.write(`[bench:chat] ${line}\n`);

// biome-ignore lint/style/noProcessEnv: the harness's own knobs; it is no app, so it has no Config for them.
const { BENCH_CONVERSATIONS = '1000', BENCH_MESSAGES = '300', BENCH_ROUNDS = '3', DATABASE_URL } = process.env;
const conversations = Number(BENCH_CONVERSATIONS);
const messagesPerRound = Number(BENCH_MESSAGES);
const rounds = Number(BENCH_ROUNDS);
const write = process.argv.includes('--write');
if (!(conversations >= 10)) throw new Error('BENCH_CONVERSATIONS must be at least 10');
if (!(messagesPerRound >= 50)) throw new Error('BENCH_MESSAGES must be at least 50');
if (!Number.isInteger(rounds) || rounds < 3) throw new Error('BENCH_ROUNDS must be an integer >= 3');

type Path = 'cross' | 'same';

/** 1,000 customers with a session and one open conversation each, and one staff member: in SQL, at once. */
async function fixtures(url: string, count: number) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tokens = Array.from({ length: count + 1 }, () => randomBytes(32).toString('base64url'));
    const prefix = randomBytes(4).toString('hex');
    const { rows } = await client.query<{ n: string; conversation_id: string | null; role: string }>(
      `with u as (
         insert into app_user (id, email, name, role, created_at, updated_at)
         select gen_random_uuid(), $1 || '-' || i || '@bench.test', 'Bench ' || i,
                case when i = 0 then 'admin' else 'customer' end, now(), now()
         from generate_series(0, $2::int) as i returning id, email, role
       ), numbered as (select id, role, row_number() over (order by email) as n from u),
       s as (
         insert into auth_session (id, token_hash, user_id, expires_at, absolute_expires_at, created_at, last_used_at)
         select gen_random_uuid(), encode(sha256(convert_to(t.token, 'UTF8')), 'hex'), numbered.id,
                now() + interval '1 day', now() + interval '1 day', now(), now()
         from numbered join unnest($3::text[]) with ordinality as t(token, n) using (n) returning user_id
       ), c as (
         insert into chat_conversation (id, customer_id, subject, status, created_at, last_message_at, awaiting_staff_since)
         select gen_random_uuid(), id, 'Bench question', 'open', now(), now(), now() from numbered where role = 'customer'
         returning id, customer_id
       )
       select numbered.n::text, c.id as conversation_id, numbered.role
       from numbered left join c on c.customer_id = numbered.id order by numbered.n`,
      [prefix, count, tokens],
    );
    const staffIndex = rows.findIndex((r) => r.role === 'admin');
    const customers = rows.flatMap((r, i) =>
      r.conversation_id ? [{ token: tokens[i] as string, conversationId: r.conversation_id }] : [],
    );
    return { staffToken: tokens[staffIndex] as string, customers };
  } finally {
    await client.end();
  }
}

function startApi(databaseUrl: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const entry = fileURLToPath(new URL('../../api/src/main.ts', import.meta.url));
  // biome-ignore lint/style/noProcessEnv: the API reads its configuration from the environment.
  const inherited = process.env;
  const child = spawn(process.execPath, [entry], {
    env: {
      ...inherited,
      NODE_ENV: 'production',
      DATABASE_URL: databaseUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      METRICS_PORT: '0',
      CHAT_SEND_PER_MINUTE: '10000',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const stop = async () => {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('API did not start within 30 s')), 30_000);
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      for (;;) {
        const nl = buffer.indexOf('\n');
        if (nl < 0) break;
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const port = /"address":"http:\/\/[^"]*:(\d+)"/.exec(line)?.[1];
        if (port && line.includes('api listening')) {
          clearTimeout(timer);
          resolve({ url: `http://127.0.0.1:${port}`, stop });
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`API exited on start (${code})`)));
  });
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

async function main() {
  await using cleanup = new AsyncDisposableStack();
  const db = await openDatabase(DATABASE_URL, cleanup, log);
  log(`making ${conversations} customers with an open conversation each...`);
  const { staffToken, customers } = await fixtures(db.url, conversations);
  const a = await startApi(db.url);
  cleanup.defer(a.stop);
  const b = await startApi(db.url);
  cleanup.defer(b.stop);
  log(`replicas on ${a.url} and ${b.url}`);

  const clients: KeelsonClient[] = [];
  cleanup.defer(async () => {
    await Promise.all(clients.map((c) => closeClient(c)));
  });
  const client = (url: string, token: string) => {
    const c = createClient({ url: `${url}/trpc`, token: () => token, transport: 'ws' });
    clients.push(c);
    return c;
  };
  // Every customer's page: one WebSocket to A, watching their conversation.
  const waiting = new Map<string, (at: number) => void>();
  let started = 0;
  await Promise.all(
    customers.map(
      (cust) =>
        new Promise<void>((resolve, reject) => {
          client(a.url, cust.token).chat.onMessage.subscribe(
            { conversationId: cust.conversationId },
            {
              onStarted: () => {
                started++;
                resolve();
              },
              onData: (e) => {
                const data = e.data as { kind: string; message?: { body: string | null } };
                if (data.kind !== 'message' || !data.message?.body) return;
                waiting.get(data.message.body)?.(performance.now());
              },
              onError: reject,
            },
          );
        }),
    ),
  );
  log(`${started} subscriptions open on A`);
  const staffOn: Record<Path, KeelsonClient> = { cross: client(b.url, staffToken), same: client(a.url, staffToken) };

  /**
   * One message through `path`: ms from the send to the customer's subscription receiving it, and to the
   * send's own answer (the write committed).
   */
  const deliver = async (path: Path, i: number) => {
    const target = customers[Math.floor(Math.random() * customers.length)]!;
    const body = `${path}-${i}-${randomBytes(4).toString('hex')}`;
    const received = new Promise<number>((resolve) => waiting.set(body, resolve));
    const t0 = performance.now();
    await staffOn[path].chat.send.mutate({ conversationId: target.conversationId, body });
    const answered = performance.now() - t0;
    const t1 = await Promise.race([
      received,
      new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`${body} not delivered in 10 s`)), 10_000)),
    ]);
    waiting.delete(body);
    return { received: t1 - t0, answered };
  };

  // Warm-up, discarded.
  for (let i = 0; i < 50; i++) await deliver(i % 2 ? 'cross' : 'same', i);
  const results: { round: number; path: Path; p50: number; p95: number; p99: number; answeredP50: number }[] = [];
  for (let round = 1; round <= rounds; round++) {
    const samples: Record<Path, number[]> = { cross: [], same: [] };
    const answered: Record<Path, number[]> = { cross: [], same: [] };
    // Four in flight at a time, alternating paths, so that load and drift affect both alike.
    const CONCURRENCY = 4;
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < messagesPerRound * 2) {
          const i = next++;
          const path: Path = i % 2 ? 'cross' : 'same';
          const d = await deliver(path, i);
          samples[path].push(d.received);
          answered[path].push(d.answered);
        }
      }),
    );
    for (const path of ['cross', 'same'] as const) {
      const sorted = samples[path].sort((x, y) => x - y);
      const r = {
        round,
        path,
        p50: quantile(sorted, 0.5),
        p95: quantile(sorted, 0.95),
        p99: quantile(sorted, 0.99),
        answeredP50: quantile(
          answered[path].sort((x, y) => x - y),
          0.5,
        ),
      };
      results.push(r);
      log(`round ${round} ${path}: p50 ${r.p50.toFixed(1)} ms, p95 ${r.p95.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`);
    }
  }
  const summary = (path: Path) => {
    const rs = results.filter((r) => r.path === path);
    return {
      p50: median(rs.map((r) => r.p50)),
      p95: median(rs.map((r) => r.p95)),
      p99: median(rs.map((r) => r.p99)),
      answeredP50: median(rs.map((r) => r.answeredP50)),
    };
  };
  const cross = summary('cross');
  const same = summary('same');
  const ms = (v: number) => v.toFixed(1);
  const section = [
    `## chat · ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC · ${revision()}`,
    '',
    `${cpuModel()}, ${cpus().length} CPUs · Node ${process.version} · ${db.server} · two API replicas (production config), ${customers.length} open conversations, each customer subscribed on replica A over its own WebSocket · ${rounds} rounds of ${messagesPerRound} messages per path, 4 in flight, after 50 discarded`,
    '',
    ...table(
      ['path', 'received p50 ms', 'p95 ms', 'p99 ms', 'send answered p50 ms'],
      [false, true, true, true, true],
      [
        ['cross (staff on B → customer on A)', ms(cross.p50), ms(cross.p95), ms(cross.p99), ms(cross.answeredP50)],
        ['same (staff on A → customer on A)', ms(same.p50), ms(same.p95), ms(same.p99), ms(same.answeredP50)],
      ],
    ),
    '',
    `**cross / same p50: ${(cross.p50 / same.p50).toFixed(2)}, p95: ${(cross.p95 / same.p95).toFixed(2)}** (medians over rounds)`,
    '',
    ...table(
      ['round', 'path', 'p50 ms', 'p95 ms', 'p99 ms'],
      [true, false, true, true, true],
      results.map((r) => [String(r.round), r.path, ms(r.p50), ms(r.p95), ms(r.p99)]),
    ),
    '',
  ].join('\n');
  process.stdout.write(`${section}\n`);
  if (write) appendFileSync(DOC, `\n${section}`);
}

await main();
