/**
 * Shared by the observability tests: the repository's config files parsed, the dashboard's PromQL
 * with Grafana's variables filled in, and promtool.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '@keelson/testing';
import { TOOL_PACKAGES } from '@keelson/testing/tools';
import { parse } from 'yaml';

export { repoRoot };
export const observabilityDir = path.join(repoRoot, 'observability');

export function readText(relative: string): string {
  return readFileSync(path.join(repoRoot, relative), 'utf8');
}

/** A YAML file of the repository, parsed (anchors and merge keys resolved, as docker compose does). */
export function readYaml<T = unknown>(relative: string): T {
  return parse(readText(relative), { merge: true }) as T;
}

export function exists(relative: string): boolean {
  return existsSync(path.join(repoRoot, relative));
}

export interface DashboardTarget {
  refId: string;
  expr: string;
  exemplar?: boolean;
  format?: string;
  datasource?: { type: string; uid: string };
}

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  description?: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: DashboardTarget[];
  panels?: DashboardPanel[];
}

export interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: DashboardPanel[];
  templating: { list: { name: string; type: string; allValue?: string; query?: unknown }[] };
}

export const dashboardFile = 'observability/grafana/dashboards/keelson.json';

export function readDashboard(): Dashboard {
  return JSON.parse(readText(dashboardFile)) as Dashboard;
}

/** Every panel, rows' nested panels included. */
export function allPanels(dashboard: Dashboard): DashboardPanel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/**
 * What Grafana would send for `expr`: its built-in interval variables and the dashboard's own
 * variables (at "All") replaced. `rateInterval` stands for `$__rate_interval` (at least four scrape
 * intervals in Grafana).
 */
export function substituteVariables(expr: string, dashboard: Dashboard, rateInterval = '1m'): string {
  const builtIn: Record<string, string> = {
    __rate_interval: rateInterval,
    __interval: '15s',
    __range: '1h',
  };
  const own = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v.allValue ?? '.*']));
  const values: Record<string, string> = { ...own, ...builtIn };
  // `${name}`, `${name:format}`, `[[name]]` or `$name`: exactly one of the groups is set.
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g, (match, ...groups: unknown[]) => {
    const name = groups.slice(0, 3).find((g) => typeof g === 'string') as string;
    const value = values[name];
    if (value === undefined) throw new Error(`unknown Grafana variable ${match} in: ${expr}`);
    return value;
  });
}

export interface DashboardQuery {
  panel: string;
  refId: string;
  expr: string;
}

/** Every target's PromQL, variables substituted, labelled with its panel for failure messages. */
export function dashboardQueries(dashboard: Dashboard, rateInterval?: string): DashboardQuery[] {
  return allPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? []).map((t) => ({
      panel: panel.title,
      refId: t.refId,
      expr: substituteVariables(t.expr, dashboard, rateInterval),
    })),
  );
}

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function readAlertRules(): AlertRule[] {
  const file = readYaml<{ groups: { name: string; rules: AlertRule[] }[] }>('observability/prometheus/alerts.yml');
  return file.groups.flatMap((g) => g.rules);
}

const execFileAsync = promisify(execFile);

/**
 * Runs promtool (or amtool). A missing binary fails the test with what to install: these checks are the
 * only thing standing between a typo in alerts.yml and a Prometheus that refuses to start. Tests calling
 * it declare `needsTool('promtool')`, so that they are skipped and counted instead where it is not installed.
 */
async function runTool(tool: 'promtool' | 'amtool', args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(tool, args, { cwd: repoRoot });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { code?: string | number; stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') {
      const pkg = TOOL_PACKAGES[tool];
      throw new Error(
        `${tool} is not installed: install Debian's ${pkg} package (\`apt-get install -y ${pkg}\`), as .ci/run does`,
      );
    }
    return { code: typeof e.code === 'number' ? e.code : 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

export const promtool = (args: string[]) => runTool('promtool', args);
export const amtool = (args: string[]) => runTool('amtool', args);

/** GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens. */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of every heading of a Markdown file of the repository (the runbooks: docs/observability.md). */
export function headingAnchors(file: string): Set<string> {
  const headings = readText(file)
    .split('\n')
    .filter((l) => /^#{1,6} /.test(l))
    .map((l) => l.replace(/^#+ /, ''));
  return new Set(headings.map(headingAnchor));
}
