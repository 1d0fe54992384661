/** Where the page was loaded from: `globalThis.location` in a browser (or a test's stand-in), absent in Node. */
export interface PageLocation {
  href: string;
}

function pageLocation(): PageLocation | undefined {
  const location = (globalThis as { location?: PageLocation }).location;
  return typeof location?.href === 'string' ? location : undefined;
}

/**
 * The API's absolute URL. A relative one (`/trpc`, the API behind the same origin) is resolved against the
 * page, as `fetch` would; outside a browser nothing says what it is relative to, so that is an error.
 */
export function resolveApiUrl(url: string, location: PageLocation | undefined = pageLocation()): URL {
  try {
    return new URL(url);
  } catch {
    // Not absolute: relative to the page, if there is one.
  }
  if (location) return new URL(url, location.href);
  throw new TypeError(
    `createClient: option \`url\` must be an absolute URL outside a browser, such as http://localhost:3000/trpc (got ${JSON.stringify(url)}); relative URLs resolve against the page's location, and there is none here.`,
  );
}

/** The same endpoint for WebSocket: ws: beside http:, wss: beside https:. */
export function toWebSocketUrl(url: URL): string {
  const ws = new URL(url);
  ws.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return ws.toString();
}
