/**
 * Fixtures for commerce tests, written straight to the database (fast enough to make hundreds of
 * customers), and the stock conservation check every order test ends with.
 */
import { randomBytes } from 'node:crypto';
import { hashToken } from '@keelson/auth';
import { uuidv7 } from '@keelson/db';
import pg from 'pg';

export interface TestUser {
  id: string;
  email: string;
  /** A bearer session token. */
  token: string;
}

/** `count` signed-in users of a role, each with a session valid for an hour. One round trip per table. */
export async function createUsers(
  url: string,
  count: number,
  opts: { role?: 'customer' | 'admin'; prefix?: string } = {},
): Promise<TestUser[]> {
  const prefix = opts.prefix ?? `u${randomBytes(4).toString('hex')}`;
  const users = Array.from({ length: count }, (_, i) => ({
    id: uuidv7(),
    email: `${prefix}-${i}@shop.test`,
    token: randomBytes(32).toString('base64url'),
  }));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      `insert into app_user (id, email, name, role, email_verified_at, created_at, updated_at)
       select id, email, 'Test ' || email, $3, now(), now(), now() from unnest($1::uuid[], $2::text[]) as u(id, email)`,
      [users.map((u) => u.id), users.map((u) => u.email), opts.role ?? 'customer'],
    );
    await client.query(
      `insert into auth_session (id, token_hash, user_id, expires_at, absolute_expires_at, created_at, last_used_at)
       select gen_random_uuid(), h, id, now() + interval '1 hour', now() + interval '2 hours', now(), now()
       from unnest($1::uuid[], $2::text[]) as s(id, h)`,
      [users.map((u) => u.id), users.map((u) => hashToken(u.token))],
    );
  } finally {
    await client.end();
  }
  return users;
}

/** A product with its initial stock recorded in the adjustment ledger, as `catalog.create` does. */
export async function createProduct(
  url: string,
  opts: { priceCents: number; stock: number; name?: string; category?: string },
): Promise<{ id: string; slug: string; name: string }> {
  const id = uuidv7();
  const name = opts.name ?? `Product ${id.slice(-6)}`;
  const slug = `p-${id.slice(-12)}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      `insert into product (id, slug, name, category, price_cents, currency, stock, created_at, updated_at)
       values ($1, $2, $3, $4, $5, 'USD', $6, now(), now())`,
      [id, slug, name, opts.category ?? 'general', opts.priceCents, opts.stock],
    );
    if (opts.stock > 0) {
      await client.query(
        `insert into stock_adjustment (id, product_id, delta, reason, at) values ($1, $2, $3, 'initial', now())`,
        [uuidv7(), id, opts.stock],
      );
    }
  } finally {
    await client.end();
  }
  return { id, slug, name };
}

export interface StockDiscrepancy {
  product_id: string;
  stock: number;
  held: number;
  adjusted: number;
}

/**
 * Products for which `stock + units held by live orders ≠ initial stock + restocks` (the adjustment
 * ledger). Empty when no unit was created or lost. Orders hold their units unless cancelled or failed.
 */
export async function stockDiscrepancies(url: string): Promise<StockDiscrepancy[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<StockDiscrepancy>(
      `select p.id as product_id, p.stock, coalesce(h.units, 0)::int as held, coalesce(a.total, 0)::int as adjusted
       from product p
       left join (
         select l.product_id, sum(l.quantity) as units from order_line l
         join store_order o on o.id = l.order_id
         where o.status not in ('cancelled', 'payment_failed') group by l.product_id
       ) h on h.product_id = p.id
       left join (select product_id, sum(delta) as total from stock_adjustment group by product_id) a
         on a.product_id = p.id
       where p.stock < 0 or p.stock + coalesce(h.units, 0) <> coalesce(a.total, 0)`,
    );
    return rows;
  } finally {
    await client.end();
  }
}
