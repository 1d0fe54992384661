import { CATALOG_CHANNEL, notifyProductsChanged } from '@keelson/catalog';
import { eventually, useTestOrm } from '@keelson/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('notifyProductsChanged', () => {
  const t = useTestOrm();
  let listener: pg.Client;
  const received: string[] = [];

  beforeAll(async () => {
    listener = new pg.Client({ connectionString: t.db.url });
    await listener.connect();
    listener.on('notification', (n) => received.push(n.payload ?? ''));
    await listener.query(`listen ${CATALOG_CHANNEL}`);
  });
  afterAll(() => listener.end());

  const ids = (n: number) =>
    Array.from({ length: n }, (_, i) => `01a1fc83-fefb-7ec8-8e30-${String(i).padStart(12, '0')}`);

  it('announces each product once, on commit only', async () => {
    received.length = 0;
    const [a, b] = ids(2) as [string, string];
    await expect(
      t.orm.em.fork().transactional(async (tx) => {
        await notifyProductsChanged(tx, [a]);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await t.orm.em.fork().transactional((tx) => notifyProductsChanged(tx, [a, b, a]));
    await eventually(async () => received.length >= 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(received.sort()).toEqual([a, b].sort());
  });

  it('announces many products as one `*`', async () => {
    received.length = 0;
    await t.orm.em.fork().transactional((tx) => notifyProductsChanged(tx, ids(51)));
    await eventually(async () => received.length >= 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(received).toEqual(['*']);
  });
});
