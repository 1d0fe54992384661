/**
 * `pnpm drill [kill] [restart] [sigterm] [--clients N] [--duration S] [--pg-bin DIR] [--report FILE]`:
 * runs the fault drills (drills.ts) and prints what held. With DATABASE_URL (a maintenance database URL
 * of a server the drill may create databases on and terminate their connections), the kill and SIGTERM
 * drills run there; without it, on an embedded PostgreSQL of their own. The restart drill always stops
 * and starts a server of its own: `--pg-bin /usr/lib/postgresql/15/bin` picks an installed version.
 * Exits 1 when any drill fails.
 */
import { writeFile } from 'node:fs/promises';
import { type DrillReport, killDrill, restartDrill, sigtermDrill } from './drills.ts';
import { startDrillServer } from './stack.ts';

const DRILLS = ['kill', 'restart', 'sigterm'] as const;
type DrillName = (typeof DRILLS)[number];

const log = (line: string) => process.stderr.write(`[drill] ${line}\n`);

function readOptions() {
  const args = process.argv.slice(2);
  const value = (flag: string) => {
    const i = args.indexOf(flag);
    if (i < 0) return undefined;
    const v = args[i + 1];
    if (!v || v.startsWith('--')) throw new Error(`${flag} needs a value`);
    args.splice(i, 2);
    return v;
  };
  const number = (flag: string, fallback: number) => {
    const raw = value(flag);
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, not "${raw}"`);
    return n;
  };
  const clients = number('--clients', 24);
  const durationS = number('--duration', 60);
  const cycles = number('--cycles', 3);
  const binDir = value('--pg-bin');
  const reportFile = value('--report');
  const unknown = args.filter((a) => !(DRILLS as readonly string[]).includes(a));
  if (unknown.length) {
    throw new Error(
      `unknown arguments: ${unknown.join(' ')}\nusage: pnpm drill [${DRILLS.join('] [')}] [--clients N] [--duration S] [--cycles N] [--pg-bin DIR] [--report FILE]`,
    );
  }
  const drills = (args.length ? args : DRILLS) as DrillName[];
  // biome-ignore lint/style/noProcessEnv: the drill's own knob; it is no app, so it has no Config for it.
  return { clients, durationS, cycles, binDir, reportFile, drills, databaseUrl: process.env.DATABASE_URL };
}

function markdown(reports: DrillReport[]): string {
  const lines: string[] = [];
  for (const r of reports) {
    lines.push(`### \`${r.drill}\` on ${r.database}: ${r.passed ? 'passed' : 'FAILED'}`, '');
    lines.push('| figure | value |', '| --- | --- |');
    for (const [k, v] of Object.entries(r.figures)) lines.push(`| ${k} | ${v} |`);
    lines.push('');
    for (const f of r.failures) lines.push(`- failed: ${f}`);
    if (r.failures.length) lines.push('');
  }
  return lines.join('\n');
}

const opts = readOptions();
const reports: DrillReport[] = [];
await using cleanup = new AsyncDisposableStack();
let adminUrl = opts.databaseUrl;
if (!adminUrl && opts.drills.some((d) => d !== 'restart')) {
  log('no DATABASE_URL: starting a PostgreSQL of the drill’s own');
  const server = await startDrillServer({ binDir: opts.binDir, log });
  cleanup.defer(() => server.destroy());
  adminUrl = server.adminUrl;
}
const common = { clients: opts.clients, log };
for (const drill of opts.drills) {
  log(`${drill}: starting`);
  const report =
    drill === 'kill'
      ? await killDrill(adminUrl as string, { ...common, durationMs: opts.durationS * 1000, intervalMs: 3_000 })
      : drill === 'restart'
        ? await restartDrill({ ...common, downMs: 5_000, binDir: opts.binDir })
        : await sigtermDrill(adminUrl as string, { ...common, cycles: opts.cycles });
  log(`${drill}: ${report.passed ? 'passed' : 'FAILED'}`);
  reports.push(report);
}
const text = markdown(reports);
process.stdout.write(`${text}\n`);
if (opts.reportFile) await writeFile(opts.reportFile, text);
process.exitCode = reports.every((r) => r.passed) ? 0 : 1;
