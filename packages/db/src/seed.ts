/**
 * Seeds an empty database: one admin account and a demo catalogue. Safe to run again: it only adds what
 * is missing, so `pnpm start` calls it on every launch.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { StockAdjustment } from './entities/Inventory.ts';
import { Product } from './entities/Product.ts';
import { User } from './entities/User.ts';

export interface SeedOptions {
  /** The admin to create when the database has none; omitted, no account is created. */
  admin?: { email: string; name?: string; passwordHash: string } | undefined;
}

export interface SeedResult {
  adminCreated: boolean;
  productsCreated: number;
}

const materials = ['Oak', 'Walnut', 'Linen', 'Wool', 'Copper', 'Ceramic', 'Glass', 'Steel', 'Bamboo', 'Cotton'];
/** Each kind of thing with its category. */
const things = [
  ['Desk Lamp', 'lighting'],
  ['Mug', 'kitchen'],
  ['Notebook', 'stationery'],
  ['Throw Blanket', 'textiles'],
  ['Plant Pot', 'garden'],
  ['Serving Board', 'kitchen'],
] as const;

/** 60 deterministic products: every material with every kind of thing. */
export function demoProducts(): Array<{
  slug: string;
  name: string;
  description: string;
  category: string;
  imageUrls: string[];
  priceCents: number;
  stock: number;
}> {
  return materials.flatMap((material, m) =>
    things.map(([thing, category], t) => {
      const name = `${material} ${thing}`;
      const slug = name.toLowerCase().replaceAll(' ', '-');
      return {
        slug,
        name,
        description: `A ${thing.toLowerCase()} made of ${material.toLowerCase()}, from the Keelson demo catalogue.`,
        category,
        imageUrls: [`https://images.keelson.local/demo/${slug}.jpg`],
        priceCents: 900 + ((m * 7 + t * 13) % 40) * 250,
        stock: (m * 3 + t * 5) % 25,
      };
    }),
  );
}

/** Whether the database has no admin yet: the caller then hashes a password and passes it to `seed`. */
export async function needsAdmin(em: EntityManager): Promise<boolean> {
  return (await em.count(User, { role: 'admin' })) === 0;
}

export async function seed(em: EntityManager, opts: SeedOptions): Promise<SeedResult> {
  return em.transactional(async (tx) => {
    let adminCreated = false;
    if (opts.admin && (await needsAdmin(tx))) {
      tx.create(User, {
        email: opts.admin.email.toLowerCase(),
        name: opts.admin.name ?? 'Administrator',
        role: 'admin',
        passwordHash: opts.admin.passwordHash,
        // The operator chose this address; there is no one to send a verification link to yet.
        emailVerifiedAt: new Date(),
      });
      adminCreated = true;
    }
    let productsCreated = 0;
    if ((await tx.count(Product, {})) === 0) {
      for (const data of demoProducts()) {
        const product = tx.create(Product, { ...data, currency: 'USD' });
        // Seeded stock enters the ledger like any other, so `stock + units ordered = sum(adjustments)` holds.
        if (data.stock > 0) tx.create(StockAdjustment, { product, delta: data.stock, reason: 'initial' });
        productsCreated++;
      }
    }
    return { adminCreated, productsCreated };
  });
}
