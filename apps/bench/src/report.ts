/** Turns round results into the console lines and the Markdown section for docs/benchmarks.md. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { cpuLabel, type ServerKind } from './processes.ts';

export interface RoundResult {
  round: number;
  kind: ServerKind;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time of the server process over the round; 1 = one core. */
  serverCpu: number;
  /** Busy share of the CPUs the load generator and PostgreSQL ran on; null when nothing was pinned. */
  otherCpusBusy: number | null;
}

export interface RunInfo {
  date: Date;
  /** Share of all CPUs busy in the seconds before the run started. */
  hostBusy: number;
  postgres: string;
  /** Where the servers, load generator and PostgreSQL ran, e.g. `servers pinned to CPU 0, ...`. */
  placement: string;
  /** CPU list of the load generator side, for the column header; null when unpinned. */
  otherCpus: string | null;
  connections: number;
  poolMax: number;
  durationSec: number;
  rounds: number;
  products: number;
  /** The baseline checkout's revision, when a `baseline` server ran too. */
  baseline: string | null;
  /** The servers measured, in the order they ran. */
  kinds: ServerKind[];
}

export const DOC_HEADER = `# Benchmarks

\`pnpm bench\` measures \`catalog.get\` (one product by id) through the whole stack against a bare baseline,
in the same run, on the same machine and database. \`pnpm bench --write\` appends its result below; every
number in this file was measured by it, on the machine its section names.

- **full**: the real API as \`buildApp\` (\`@keelson/api\`) assembles it: Fastify, the tRPC adapter with superjson,
  zod input and output validation, a forked MikroORM EntityManager per call. Production config, logging silenced.
- **bare**: \`node:http\` and a \`pg.Pool\` running the equivalent SQL and sending the same response bytes (the
  harness checks this before measuring). The gap between the two is what the framework costs per request.
- Each server is its own Node process pinned to CPU 0 with \`taskset\`; the harness moves itself (the load
  generator, autocannon) and an embedded PostgreSQL to the other CPUs. Both servers use a pool of 10 connections.
- 32 concurrent keep-alive connections, no pipelining; requests cycle over the ids of the 60 seeded products.
  One discarded warm-up round per server, then rounds alternate full, bare, full, bare, ... so that drift
  affects both alike. Summary rows are medians over the rounds.
- Latency comes from autocannon, which records whole milliseconds. _Server CPU_ is the server process's CPU
  time over the round (100% = one core); well below 100% means the server waited on something else (PostgreSQL,
  its connection pool, the load generator), so its req/s is a floor rather than its capacity.
- The numbers compare the two servers on one machine. They are not a production capacity figure: production
  also writes an access-log line per request and usually has PostgreSQL on another host.

Options: \`BENCH_DURATION\` (seconds per round, default 10), \`BENCH_ROUNDS\` (default 3), \`BENCH_WRITE=1\` (same as
\`--write\`), \`DATABASE_URL\` (use that server: a scratch database is created on it and dropped; unset, a
throw-away embedded PostgreSQL is started).

\`pnpm bench:checkout\` measures \`orders.checkout\` through the whole stack (\`apps/bench/src/checkout.ts\`):
each request is a different signed-in customer with one cart line, so every call does the full work
(idempotency key, cart lock, order, line and history rows, cart delete, NOTIFY, job insert, conditional
stock update). **spread** buys one unit of any of the 60 products; **hot** buys the same product every
time, so every transaction queues on one row lock (a flash sale). The worker does not run; between rounds
the harness deletes the queued payment jobs (as a worker would have drained them) and runs \`VACUUM ANALYZE\`
(as autovacuum would have caught up), since without it throughput fell round after round. Rounds have
\`BENCH_CHECKOUTS\` checkouts per shape (default 3000), \`BENCH_ROUNDS\` (default 3) after a warm-up round;
throughput counts from the first request sent to the last answer; the last column is the busy share of
the CPU PostgreSQL and the load generator share. \`BENCH_SYNCHRONOUS_COMMIT=off\` runs the database without
waiting for commit flushes (an experiment, not a setting to ship).
`;

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const pct = (share: number | null) => (share === null ? '–' : `${Math.round(share * 100)}%`);
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));

export function roundLine(r: RoundResult, of: string): string {
  const other = r.otherCpusBusy === null ? '' : `, other CPUs ${pct(r.otherCpusBusy)} busy`;
  return `${of.padEnd(8)} ${r.kind.padEnd(4)}  ${int(r.reqPerSec).padStart(7)} req/s  p50 ${ms(r.p50Ms)} ms  p99 ${ms(r.p99Ms)} ms  server CPU ${pct(r.serverCpu)}${other}`;
}

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

export function cpuModel(): string {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  return /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown CPU';
}

export function revision(dir?: string): string {
  const at = dir ? ['-C', dir] : [];
  const rev = git([...at, 'rev-parse', '--short', 'HEAD']) ?? 'unknown revision';
  return git([...at, 'status', '--porcelain', '--untracked-files=no'])?.length ? `${rev} + uncommitted changes` : rev;
}

/** A Markdown table laid out the way Biome formats one, so that `pnpm check` accepts the file as written. */
export function table(header: string[], rightAligned: boolean[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(3, h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (rightAligned[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = widths.map((w, i) => (rightAligned[i] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w)));
  return [line(header), line(rule), ...rows.map(line)];
}

export function markdownSection(info: RunInfo, results: RoundResult[]): string {
  const of = (kind: ServerKind) => results.filter((r) => r.kind === kind);
  const summary = (kind: ServerKind) => {
    const rs = of(kind);
    return {
      reqPerSec: median(rs.map((r) => r.reqPerSec)),
      p50Ms: median(rs.map((r) => r.p50Ms)),
      p99Ms: median(rs.map((r) => r.p99Ms)),
      serverCpu: median(rs.map((r) => r.serverCpu)),
    };
  };
  const full = summary('full');
  const bare = summary('bare');
  const baseline = info.baseline ? summary('baseline') : null;
  const kinds = info.kinds;
  const labels: Partial<Record<ServerKind, string>> = {
    baseline: `full at ${info.baseline}`,
    traced: 'full, tracing 100%',
    sampled: 'full, tracing 10%',
  };
  const summaryRows = kinds.map((kind) => {
    const s = summary(kind);
    const label = labels[kind] ?? kind;
    return [label, int(s.reqPerSec), ms(s.p50Ms), ms(s.p99Ms), pct(s.serverCpu)];
  });
  // Per CPU-second of the server: the honest comparison when a server did not use its whole core.
  const perCpu = (s: { reqPerSec: number; serverCpu: number }) => s.reqPerSec / Math.max(s.serverCpu, 0.01);
  const roundRows = results.map((r) => [
    String(r.round),
    r.kind,
    int(r.reqPerSec),
    ms(r.p50Ms),
    ms(r.p99Ms),
    pct(r.serverCpu),
    ...(info.otherCpus ? [pct(r.otherCpusBusy)] : []),
  ]);

  const lines = [
    `## ${info.date.toISOString().slice(0, 16).replace('T', ' ')} UTC · ${revision()}`,
    '',
    `${cpuModel()}, ${cpus().length} CPUs (${pct(info.hostBusy)} busy before the run) · Node ${process.version} · ${info.postgres}`,
    `${info.placement} · ${info.connections} connections · pool ${info.poolMax} · ${info.rounds} rounds of ${info.durationSec} s per server after a discarded warm-up · ${info.products} products`,
    '',
    ...table(['server', 'req/s', 'p50 ms', 'p99 ms', 'server CPU'], [false, true, true, true, true], summaryRows),
    '',
    `**full / bare req/s: ${(full.reqPerSec / bare.reqPerSec).toFixed(2)}** (medians over rounds)`,
    ...(['traced', 'sampled'] as const)
      .filter((kind) => kinds.includes(kind))
      .flatMap((kind) => {
        const s = summary(kind);
        return [
          '',
          `**${labels[kind]} / full without tracing: req/s ${(s.reqPerSec / full.reqPerSec).toFixed(2)}, per server CPU-second ${(perCpu(s) / perCpu(full)).toFixed(2)}** (same run, interleaved)`,
        ];
      }),
    ...(baseline
      ? [
          '',
          `**full / full at ${info.baseline}: req/s ${(full.reqPerSec / baseline.reqPerSec).toFixed(2)}, per server CPU-second ${(perCpu(full) / perCpu(baseline)).toFixed(2)}** (this commit against the baseline, same run)`,
        ]
      : []),
    '',
    ...table(
      [
        'round',
        'server',
        'req/s',
        'p50 ms',
        'p99 ms',
        'server CPU',
        ...(info.otherCpus ? [`${cpuLabel(info.otherCpus)} busy`] : []),
      ],
      [true, false, true, true, true, true, true],
      roundRows,
    ),
  ];
  if (info.hostBusy > 0.1) {
    lines.push(
      '',
      `Note: other work kept the machine ${pct(info.hostBusy)} busy just before the run; it competed with the servers.`,
    );
  }
  for (const [kind, s] of [
    ['full', full],
    ['bare', bare],
  ] as const) {
    if (s.serverCpu < 0.9) {
      lines.push(
        '',
        `Note: the ${kind} server used only ${pct(s.serverCpu)} of its CPU (median): part of the time it waited (on PostgreSQL, its pool of ${info.poolMax} connections or the load generator) instead of computing, so its req/s is a floor, not its capacity${kind === 'bare' ? ', and full/bare overstates how close full comes to bare' : ''}.`,
      );
    }
  }
  for (const kind of kinds) {
    const rates = of(kind).map((r) => r.reqPerSec);
    const rising = rates.every((rate, i) => i === 0 || rate > rates[i - 1]!);
    if (rising && rates.at(-1)! > rates[0]! * 1.15) {
      lines.push(
        '',
        `Note: the ${kind} server got faster every round (${rates.map(int).join(' → ')} req/s): it was still warming up, so its median understates its steady state. Longer rounds (BENCH_DURATION) measure it nearer to that.`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
