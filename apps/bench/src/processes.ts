/** The two server processes, CPU pinning, and the CPU-time readings that show where a round's bottleneck was. */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * `baseline` is the full server of another checkout (BENCH_BASELINE: a directory holding an earlier
 * commit with its dependencies installed), measured in the same run to show what a change costs.
 */
export type ServerKind = 'full' | 'bare' | 'baseline' | 'traced' | 'sampled';

/**
 * The full server with tracing on, as `pnpm start:api` runs it with OTEL_EXPORTER_OTLP_ENDPOINT set
 * (exporting to a sink of the harness): `traced` samples every trace, `sampled` one in ten
 * (parentbased_traceidratio 0.1).
 */
const TRACING: Partial<Record<ServerKind, Record<string, string>>> = {
  traced: { OTEL_TRACES_SAMPLER: 'parentbased_always_on' },
  sampled: { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
};

/** BENCH_BASELINE, resolved, or null when the run compares nothing with an earlier commit. */
export function baselineDir(): string | null {
  // biome-ignore lint/style/noProcessEnv: the harness's own knob; it is no app, so it has no Config for it.
  const dir = process.env.BENCH_BASELINE;
  if (!dir) return null;
  const entry = path.resolve(dir, 'apps/bench/src/servers/full.ts');
  if (!existsSync(entry)) throw new Error(`BENCH_BASELINE=${dir} holds no apps/bench/src/servers/full.ts`);
  return path.resolve(dir);
}

export interface ServerProcess {
  kind: ServerKind;
  pid: number;
  url: string;
  stop(): Promise<void>;
}

/** CPU the servers share; everything else (load generator, PostgreSQL) is kept off it when possible. */
export const SERVER_CPU = 0;

export function tasksetWorks(): boolean {
  return spawnSync('taskset', ['-c', String(SERVER_CPU), 'true']).status === 0;
}

/**
 * Moves this process (all threads) off the server CPU. Called before PostgreSQL starts, so an embedded
 * server inherits it. Returns the CPU list used, or null when there is no other CPU to move to.
 */
export function pinSelfAwayFromServerCpu(): string | null {
  const count = cpus().length;
  if (count < 2) return null;
  const list = count === 2 ? '1' : `1-${count - 1}`;
  execFileSync('taskset', ['-a', '-p', '-c', list, String(process.pid)], { stdio: 'ignore' });
  return list;
}

export const cpuLabel = (list: string) => (list.includes('-') ? `CPUs ${list}` : `CPU ${list}`);

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export async function startServer(
  kind: ServerKind,
  opts: { databaseUrl: string; poolMax: number; pinned: boolean; otlpUrl?: string },
): Promise<ServerProcess> {
  const tracing = TRACING[kind];
  if (tracing && !opts.otlpUrl) throw new Error(`a ${kind} server needs an OTLP endpoint`);
  const baseline = kind === 'baseline' ? baselineDir() : null;
  if (kind === 'baseline' && !baseline) throw new Error('a baseline server needs BENCH_BASELINE');
  const entry = baseline
    ? path.join(baseline, 'apps/bench/src/servers/full.ts')
    : fileURLToPath(new URL(`./servers/${tracing ? 'full' : kind}.ts`, import.meta.url));
  const register = tracing ? ['--import', '@keelson/telemetry/register'] : [];
  const node = [process.execPath, ...register, entry, opts.databaseUrl, String(opts.poolMax)];
  // taskset execs node in place, so the child's pid is the server's own.
  const [command, ...args] = opts.pinned ? ['taskset', '-c', String(SERVER_CPU), ...node] : node;
  // biome-ignore lint/style/noProcessEnv: libraries read NODE_ENV from the environment, not Keelson's config.
  const inherited = process.env;
  const env = {
    ...inherited,
    NODE_ENV: 'production',
    ...(tracing ? { ...tracing, OTEL_EXPORTER_OTLP_ENDPOINT: opts.otlpUrl, OTEL_SERVICE_NAME: `bench-${kind}` } : {}),
  };
  const child = spawn(command as string, args, { env, stdio: ['pipe', 'pipe', 'inherit'] });
  const stop = async () => {
    child.stdin?.end();
    child.kill('SIGTERM');
    if (!(await waitForExit(child, 5000))) child.kill('SIGKILL');
  };

  const lines = createInterface({ input: child.stdout! });
  let timer: NodeJS.Timeout | undefined;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${kind} server did not start within 30 s`)), 30_000);
      child.once('error', reject);
      child.once('exit', (code, signal) => reject(new Error(`${kind} server exited on start (${signal ?? code})`)));
      lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
    });
    lines.on('line', (line) => process.stderr.write(`[${kind}] ${line}\n`));
    return { kind, pid: child.pid!, url: `http://127.0.0.1:${port}`, stop };
  } catch (err) {
    await stop();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** User + system CPU seconds a process has used so far (Linux /proc). */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15 of the whole line.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Busy and total time of the CPUs `include` selects, from /proc/stat (any unit: only ratios matter). */
export function cpuTimes(include: (cpu: number) => boolean): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const match = /^cpu(\d+) (.*)$/.exec(line);
    if (!match || !include(Number(match[1]))) continue;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = (match[2] ?? '').split(' ').map(Number);
    const idleAll = (idle ?? 0) + (iowait ?? 0);
    const busyAll = [user, nice, system, irq, softirq, steal].reduce<number>((sum, v) => sum + (v ?? 0), 0);
    busy += busyAll;
    total += busyAll + idleAll;
  }
  return { busy, total };
}

export const isOtherCpu = (cpu: number) => cpu !== SERVER_CPU;

export function busyShare(before: { busy: number; total: number }, after: { busy: number; total: number }): number {
  return (after.busy - before.busy) / (after.total - before.total || 1);
}

/** How busy the whole machine is with nothing of ours running: other work would skew every number. */
export async function hostBusyShare(ms: number): Promise<number> {
  const all = () => true;
  const before = cpuTimes(all);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return busyShare(before, cpuTimes(all));
}
