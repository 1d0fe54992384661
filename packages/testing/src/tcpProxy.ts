import { connect, createServer, type Socket } from 'node:net';

export interface TcpProxy extends AsyncDisposable {
  /** The database URL, through the proxy. */
  url: string;
  /**
   * Stops forwarding on every connection open now, without closing any: what a middlebox that lost its
   * state, or a host gone in a failover, does (no FIN, no RST, just silence). Later connections forward.
   */
  silence(): void;
  close(): Promise<void>;
}

/** A TCP proxy in front of the PostgreSQL server of `url`. */
export async function tcpProxy(url: string): Promise<TcpProxy> {
  const target = new URL(url);
  const pairs: [Socket, Socket][] = [];
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    client.pipe(upstream).pipe(client);
    client.on('error', () => {});
    upstream.on('error', () => {});
    pairs.push([client, upstream]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const via = new URL(url);
  via.hostname = '127.0.0.1';
  via.port = String((server.address() as { port: number }).port);
  const close = async () => {
    for (const [client, upstream] of pairs) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise((resolve) => server.close(resolve));
  };
  return {
    url: via.toString(),
    silence() {
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
      }
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
