/**
 * `pnpm demo [api-url] [payment-token]`: the store's main flow through `@keelson/client`, against a
 * running API and worker (`pnpm start`; by default the one HOST and PORT name, as `pnpm start` does): sign up and log in, add to cart, check out with a sandbox test token,
 * watch the worker take the payment live (a subscription over WebSocket), and read the inbox. The
 * README's walkthrough is this file.
 */
import { randomUUID } from 'node:crypto';
import { closeClient, createClient } from '@keelson/client';
import { loadConfig } from '@keelson/config';

const { http } = loadConfig();
const url = process.argv[2] ?? `http://${http.host === '0.0.0.0' ? '127.0.0.1' : http.host}:${http.port}/trpc`;
const paymentToken = process.argv[3] ?? 'tok_visa';
const money = (cents: number, currency: string) => `${(cents / 100).toFixed(2)} ${currency}`;

// 1. Sign up, then log in: sign-up answers the same whether or not the address has an account, so it
// starts no session. A bearer client keeps the session token logging in gives it (a long-lived app keeps
// its deviceToken too; see the README).
const anonymous = createClient({ url });
const credentials = {
  email: `shopper-${randomUUID().slice(0, 8)}@example.com`,
  password: 'a long walkthrough passphrase',
};
await anonymous.auth.signUp.mutate({ ...credentials, name: 'Walkthrough Shopper' });
const { token, user } = await anonymous.auth.logIn.mutate(credentials);
const api = createClient({ url, token: () => token });
console.log(`Signed up and logged in as ${user.email}`);

// 2. Find something in stock and put two in the cart; the server prices it.
const { items } = await api.catalog.list.query({ q: 'mug', limit: 20 });
const product = items.find((p) => p.stock >= 2);
if (!product) throw new Error('No mug with 2 in stock: run `pnpm db:seed` or restock one.');
const cart = await api.cart.addItem.mutate({ productId: product.id, quantity: 2 });
console.log(
  `Cart: 2 × ${product.name}, subtotal ${money(cart.subtotalCents, cart.currency)}, ` +
    `tax ${money(cart.taxCents, cart.currency)}, total ${money(cart.totalCents, cart.currency)}`,
);

// 3. Listen before acting, so no change can slip between the two: the caller's own orders, pushed as
// they commit, from whichever API process (and the worker) makes the change.
const changes: { orderId: string; from: string | null; status: string }[] = [];
let changed: () => void = () => {};
const sub = api.orders.onStatusChange.subscribe(
  {},
  {
    onData: ({ data }) => {
      changes.push(data);
      changed();
    },
    onError: (err) => console.error(`Subscription ended: ${err.message}`),
  },
);

// 4. Check out. The key makes retries safe: sending it again returns this same order.
const order = await api.orders.checkout.mutate({
  idempotencyKey: randomUUID(),
  paymentToken,
  expectedTotalCents: cart.totalCents,
});
console.log(`Order ${order.id} is ${order.status}; the worker is taking the payment...`);

// 5. The worker moves it on; the subscription pushes each change (30 s at most here).
const settled = () => changes.some((c) => c.orderId === order.id && c.status !== 'pending_payment');
const deadline = Date.now() + 30_000;
while (!settled() && Date.now() < deadline) {
  await new Promise<void>((resolve) => {
    changed = resolve;
    setTimeout(resolve, 1_000);
  });
}
sub.unsubscribe();
for (const c of changes.filter((c) => c.orderId === order.id)) console.log(`  pushed: ${c.from ?? '-'} → ${c.status}`);
const final = await api.orders.get.query({ id: order.id });
for (const h of final.history)
  console.log(`  ${h.at.toISOString()}  ${h.fromStatus ?? '-'} → ${h.toStatus} (${h.actor})`);
console.log(`Order ${order.id} is ${final.status}.`);

// 6. The same business event filed a notification in the inbox, in the worker's transaction.
const inbox = await api.notifications.list.query({ limit: 5 });
for (const n of inbox.items) console.log(`  inbox: ${n.title}`);
console.log(`${inbox.unreadCount} unread notification(s).`);
await Promise.all([closeClient(anonymous), closeClient(api)]);
process.exitCode = final.status === 'pending_payment' || !settled() ? 1 : 0;
