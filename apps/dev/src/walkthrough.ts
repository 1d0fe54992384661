/**
 * `pnpm demo [api-url] [payment-token]`: the store's main flow through `@keelson/client`, against a
 * running API and worker (`pnpm start`): sign up, add to cart, check out with a sandbox test token,
 * and watch the worker take the payment. The README's walkthrough is this file.
 */
import { randomUUID } from 'node:crypto';
import { closeClient, createClient } from '@keelson/client';

const url = process.argv[2] ?? 'http://127.0.0.1:3000/trpc';
const paymentToken = process.argv[3] ?? 'tok_visa';
const money = (cents: number, currency: string) => `${(cents / 100).toFixed(2)} ${currency}`;

// 1. Sign up: a bearer client keeps the session token it is given.
const anonymous = createClient({ url });
const { token, user } = await anonymous.auth.signUp.mutate({
  email: `shopper-${randomUUID().slice(0, 8)}@example.com`,
  password: 'a long walkthrough passphrase',
  name: 'Walkthrough Shopper',
});
const api = createClient({ url, token: () => token });
console.log(`Signed up as ${user.email}`);

// 2. Find something in stock and put two in the cart; the server prices it.
const { items } = await api.catalog.list.query({ q: 'mug', limit: 20 });
const product = items.find((p) => p.stock >= 2);
if (!product) throw new Error('No mug with 2 in stock: run `pnpm db:seed` or restock one.');
const cart = await api.cart.addItem.mutate({ productId: product.id, quantity: 2 });
console.log(
  `Cart: 2 × ${product.name}, subtotal ${money(cart.subtotalCents, cart.currency)}, ` +
    `tax ${money(cart.taxCents, cart.currency)}, total ${money(cart.totalCents, cart.currency)}`,
);

// 3. Check out. The key makes retries safe: sending it again returns this same order.
const order = await api.orders.checkout.mutate({
  idempotencyKey: randomUUID(),
  paymentToken,
  expectedTotalCents: cart.totalCents,
});
console.log(`Order ${order.id} is ${order.status}; the worker is taking the payment...`);

// 4. Watch the worker move it on (a subscription will push this once realtime lands).
let status = order.status;
for (let i = 0; i < 100 && status === 'pending_payment'; i++) {
  await new Promise((r) => setTimeout(r, 300));
  status = (await api.orders.get.query({ id: order.id })).status;
}
const final = await api.orders.get.query({ id: order.id });
for (const h of final.history)
  console.log(`  ${h.at.toISOString()}  ${h.fromStatus ?? '-'} → ${h.toStatus} (${h.actor})`);
console.log(`Order ${order.id} is ${final.status}.`);
await Promise.all([closeClient(anonymous), closeClient(api)]);
process.exitCode = final.status === 'pending_payment' ? 1 : 0;
