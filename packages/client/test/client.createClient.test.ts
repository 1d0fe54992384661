/**
 * Where the client sends its requests, without a browser: a stand-in `globalThis.location` makes it a page,
 * and a recording fetch (or WebSocket) shows the URL and credentials each transport uses.
 */
import { closeClient, createClient, type KeelsonClient } from '@keelson/client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolveApiUrl, toWebSocketUrl } from '../src/apiUrl.ts';

interface Call {
  url: string;
  init: RequestInit | undefined;
}

/** A fetch that records each request and answers none (the call then fails, which these tests ignore). */
function recordingFetch(): { calls: Call[]; fetch: typeof fetch } {
  const calls: Call[] = [];
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    calls.push({ url: String(input), init });
    throw new Error('offline');
  };
  return { calls, fetch };
}

/** Records the URL of every socket opened; each is refused at once, as with no server there. */
class RecordingWebSocket extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  static urls: string[] = [];
  readyState = RecordingWebSocket.CONNECTING;
  constructor(url: string | URL) {
    super();
    RecordingWebSocket.urls.push(String(url));
    setTimeout(() => this.close(), 0);
  }
  send(): void {}
  close(): void {
    if (this.readyState === RecordingWebSocket.CLOSED) return;
    this.readyState = RecordingWebSocket.CLOSED;
    this.dispatchEvent(new Event('error'));
    this.dispatchEvent(new Event('close'));
  }
}

const clients: KeelsonClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map(closeClient));
  vi.unstubAllGlobals();
  RecordingWebSocket.urls = [];
});

function client(opts: Parameters<typeof createClient>[0]): KeelsonClient {
  const c = createClient(opts);
  clients.push(c);
  return c;
}

describe('resolveApiUrl', () => {
  it('keeps an absolute URL and resolves a relative one against the page', () => {
    expect(resolveApiUrl('http://127.0.0.1:3000/trpc', undefined).href).toBe('http://127.0.0.1:3000/trpc');
    expect(resolveApiUrl('/trpc', { href: 'https://shop.example/cart/42?x=1' }).href).toBe('https://shop.example/trpc');
    expect(resolveApiUrl('https://api.example/trpc', { href: 'https://shop.example/' }).href).toBe(
      'https://api.example/trpc',
    );
  });

  it('outside a browser refuses a relative URL, naming the option', () => {
    expect(() => resolveApiUrl('/trpc', undefined)).toThrow(/option `url` must be an absolute URL.*"\/trpc"/);
  });

  it('puts WebSockets on ws: beside http: and wss: beside https:', () => {
    expect(toWebSocketUrl(new URL('http://localhost:3000/trpc'))).toBe('ws://localhost:3000/trpc');
    expect(toWebSocketUrl(resolveApiUrl('/trpc', { href: 'https://shop.example/' }))).toBe('wss://shop.example/trpc');
  });
});

describe('createClient', () => {
  it('in Node (no location), a relative URL is an error that names the option', () => {
    expect('location' in globalThis).toBe(false);
    expect(() => createClient({ url: '/trpc' })).toThrow(TypeError);
    expect(() => createClient({ url: '/trpc' })).toThrow(/option `url`/);
  });

  it('in a browser, /trpc goes to the page’s origin, with credentials included by default', async () => {
    vi.stubGlobal('location', { href: 'https://shop.example/products/lamp' });
    const { calls, fetch } = recordingFetch();
    const api = client({ url: '/trpc', fetch });
    await expect(api.catalog.list.query({ limit: 2 })).rejects.toThrow('offline');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.url).toMatch(/^https:\/\/shop\.example\/trpc\/catalog\.list\?/);
    expect(calls[0]!.init?.credentials).toBe('include');
  });

  it('sends the credentials mode it is given, on mutations too', async () => {
    const { calls, fetch } = recordingFetch();
    const api = client({ url: 'http://127.0.0.1:9/trpc', fetch, credentials: 'same-origin' });
    await expect(api.auth.logOut.mutate()).rejects.toThrow('offline');
    expect(calls[0]!.url).toBe('http://127.0.0.1:9/trpc/auth.logOut?batch=1');
    expect(calls[0]!.init?.method).toBe('POST');
    expect(calls[0]!.init?.credentials).toBe('same-origin');
  });

  it('opens SSE subscriptions on the page’s origin with credentials and the bearer token', async () => {
    vi.stubGlobal('location', { href: 'https://shop.example/admin' });
    const { calls, fetch } = recordingFetch();
    const api = client({ url: '/trpc', fetch, transport: 'sse', token: () => 'tok_1' });
    const sub = api.dashboard.live.subscribe(undefined, { onError: () => {} });
    await vi.waitFor(() => expect(calls.length).toBeGreaterThan(0));
    sub.unsubscribe();
    expect(calls[0]!.url).toMatch(/^https:\/\/shop\.example\/trpc\/dashboard\.live\?/);
    expect(calls[0]!.init?.credentials).toBe('include');
    expect(calls[0]!.init?.headers).toMatchObject({ authorization: 'Bearer tok_1' });
  });

  it('opens its WebSocket on wss: for an https: page', async () => {
    vi.stubGlobal('location', { href: 'https://shop.example/admin' });
    vi.stubGlobal('WebSocket', RecordingWebSocket);
    const api = client({ url: '/trpc', transport: 'ws' });
    const sub = api.dashboard.live.subscribe(undefined, { onError: () => {} });
    await vi.waitFor(() => expect(RecordingWebSocket.urls.length).toBeGreaterThan(0));
    sub.unsubscribe();
    expect(new Set(RecordingWebSocket.urls)).toEqual(new Set(['wss://shop.example/trpc?connectionParams=1']));
  });
});
