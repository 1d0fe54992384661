/** Reading a process's `/metrics` in tests: its samples, and promtool's verdict on the text. */
import { spawnSync } from 'node:child_process';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/;
const LABEL = /([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of a Prometheus text (or OpenMetrics) exposition; comments and exemplars left out. */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the one sample named so whose labels include `labels`; 0 when there is none. */
export function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value ?? 0;
}

/** GETs `/metrics` in the Prometheus text format (with METRICS_TOKEN's bearer token, if any) and parses it. */
export async function scrapeMetrics(
  baseUrl: string,
  opts: { token?: string } = {},
): Promise<{ text: string; samples: Sample[] }> {
  const res = await fetch(
    `${baseUrl}/metrics`,
    opts.token ? { headers: { authorization: `Bearer ${opts.token}` } } : {},
  );
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`);
  const text = await res.text();
  return { text, samples: parseMetrics(text) };
}

/**
 * What `promtool check metrics` says about an exposition: '' when it finds nothing. Throws when promtool
 * is not installed: the check must not pass without running (tests calling it declare `needsTool('promtool')`).
 */
export function promtoolCheckMetrics(text: string): string {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error("promtool is not installed: install Debian's `prometheus` package (apt-get install prometheus)");
  }
  if (run.error) throw run.error;
  return `${run.stdout}${run.stderr}`.trim() || (run.status === 0 ? '' : `promtool exited with ${run.status}`);
}
