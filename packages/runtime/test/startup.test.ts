import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { explainStartupError, firstTakenPort } from '../src/startup.ts';

/** The error a real connect to a port nobody listens on gives. */
async function refused(port: number): Promise<unknown> {
  return new Promise((resolve) => net.connect(port, '127.0.0.1').once('error', resolve));
}

const url = 'postgres://user:secret@127.0.0.1:5999/shop';

describe('explainStartupError', () => {
  it('names a taken port and its variable, from the error listen really gives', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const err = await firstTakenPort([{ host: '127.0.0.1', port }]);
      expect(explainStartupError(err, { ports: { [port]: 'PORT' } })).toBe(
        `Port 127.0.0.1:${port} is already in use (another copy running?): stop what holds it, or set PORT to another port.`,
      );
    } finally {
      holder.close();
    }
  });

  it('says a refused database connection with its host and port, never its credentials, even wrapped', async () => {
    const err = new Error('connect failed', { cause: new AggregateError([await refused(5999)]) });
    const line = explainStartupError(err, { databaseUrl: url });
    expect(line).toBe(
      'Cannot reach PostgreSQL at 127.0.0.1:5999/shop (connection refused): is the server running and reachable, and is DATABASE_URL right?',
    );
    expect(line).not.toContain('secret');
  });

  it('says what the server answered: a missing database, a wrong password', () => {
    const server = (code: string) => Object.assign(new Error('x'), { code, severity: 'FATAL' });
    expect(explainStartupError(server('3D000'), { databaseUrl: url })).toContain('(the database does not exist)');
    expect(explainStartupError(server('28P01'), { databaseUrl: url })).toContain('(password authentication failed)');
  });

  it('leaves everything else alone (a bug keeps its stack)', async () => {
    // A refused write is no port problem; a refused connection to another service is no database outage.
    const eacces = await mkdir('/proc/keelson-cannot-write-here').catch((e: unknown) => e);
    expect(explainStartupError(eacces, { databaseUrl: url, ports: { 3000: 'PORT' } })).toBeUndefined();
    expect(explainStartupError(await refused(1), { databaseUrl: url })).toBeUndefined();
    expect(
      explainStartupError(new Error('Query read timeout expired after 30000 ms'), { databaseUrl: url }),
    ).toBeUndefined();
    expect(explainStartupError(Object.assign(new Error('x'), { code: '3D000' }), { databaseUrl: url })).toBeUndefined();
    expect(explainStartupError(new TypeError('undefined is not a function'), { databaseUrl: url })).toBeUndefined();
  });
});
