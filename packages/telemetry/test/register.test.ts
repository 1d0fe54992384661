/**
 * `node --import @keelson/telemetry/register …` as the start scripts run it, in a child process: off by
 * default without even loading the SDK, and exporting OTLP/protobuf to the configured endpoint when on.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const fixture = (name: string) => path.join(import.meta.dirname, 'fixtures', name);

interface ProbeReport {
  recording: boolean;
  apiRegistry: string[];
  sdkModules: number;
}

describe('@keelson/telemetry/register', () => {
  // A working directory without a `.env`, and an environment of exactly the variables under test, so a
  // developer's own OTEL_* settings cannot leak in.
  let cwd: string;
  beforeAll(async () => {
    cwd = await mkdtemp(path.join(tmpdir(), 'keelson-telemetry-'));
  });
  afterAll(() => rm(cwd, { recursive: true, force: true }));

  async function probe(env: Record<string, string>): Promise<ProbeReport> {
    const args = [
      '--import',
      fixture('recordLoads.ts'),
      '--import',
      import.meta.resolve('@keelson/telemetry/register'),
      fixture('probe.ts'),
    ];
    const { stdout } = await run(process.execPath, args, { cwd, env });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as ProbeReport;
  }

  it('installs nothing and loads no SDK without OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    expect(await probe({})).toEqual({ recording: false, apiRegistry: [], sdkModules: 0 });
  });

  it('exports spans as OTLP/protobuf to OTEL_EXPORTER_OTLP_ENDPOINT, flushed as the process exits', async () => {
    const received: { url: string | undefined; type: string | undefined; body: Buffer }[] = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ url: req.url, type: req.headers['content-type'], body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = collector.address() as AddressInfo;
      const report = await probe({
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_SERVICE_NAME: 'keelson-probe',
      });
      expect(report.recording).toBe(true);
      // Traces only: no /v1/metrics or /v1/logs.
      expect(received.map((r) => r.url)).toEqual(['/v1/traces']);
      expect(received[0]).toMatchObject({ url: '/v1/traces', type: 'application/x-protobuf' });
      // Protobuf keeps strings as they are: the resource and the span are in there by name.
      expect(received[0]!.body.includes('keelson-probe')).toBe(true);
      expect(received[0]!.body.includes('service.instance.id')).toBe(true);
      expect(received[0]!.body.includes('probe span')).toBe(true);
    } finally {
      collector.close();
    }
  });
});
