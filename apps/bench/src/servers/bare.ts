/**
 * The baseline: what `catalog.get` costs with no framework at all. It answers the same URL with the same
 * bytes as the API (the harness checks this before measuring), but skips everything else: no routing
 * table, input validation, ORM, identity map, hooks or request ids.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { announce, serverArgs } from './child.ts';

interface ProductRow {
  id: string;
  slug: string;
  name: string;
  description: string;
  category: string;
  image_urls: string[];
  price_cents: number;
  currency: string;
  stock: number;
  view_count: number;
  created_at: Date;
  updated_at: Date;
}

const SQL = `select id, slug, name, description, category, image_urls, price_cents, currency, stock, view_count,
    created_at, updated_at
  from product where id = $1 and archived_at is null`;
// superjson's note that these two JSON strings are Dates: part of the tRPC response, so part of the bytes.
const META = { values: { createdAt: ['Date'], updatedAt: ['Date'] }, v: 1 };

const { databaseUrl, poolMax } = serverArgs();
const pool = new pg.Pool({ connectionString: databaseUrl, max: poolMax });

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

async function getProduct(url: URL): Promise<[number, unknown]> {
  if (url.pathname !== '/trpc/catalog.get') return [404, { error: 'not found' }];
  const id: unknown = JSON.parse(url.searchParams.get('input') ?? '{}')?.json?.id;
  if (typeof id !== 'string') return [400, { error: 'id required' }];
  const row = (await pool.query<ProductRow>(SQL, [id])).rows[0];
  if (!row) return [404, { error: 'not found' }];
  const json = {
    id: row.id,
    slug: row.slug,
    name: row.name,
    description: row.description,
    category: row.category,
    imageUrls: row.image_urls,
    priceCents: row.price_cents,
    currency: row.currency,
    stock: row.stock,
    viewCount: row.view_count,
    // Public reads only ever see unarchived products.
    archivedAt: null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  return [200, { result: { data: { json, meta: META } } }];
}

const server = createServer((req, res) => {
  getProduct(new URL(req.url ?? '/', 'http://localhost')).then(
    ([status, body]) => send(res, status, body),
    (err: unknown) => {
      console.error(err);
      send(res, 500, { error: 'internal' });
    },
  );
});
server.listen(0, '127.0.0.1', () => {
  announce((server.address() as AddressInfo).port, async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await pool.end();
  });
});
