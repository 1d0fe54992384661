/**
 * The cart, priced by the server on every change, and checkout. Each checkout attempt has its own
 * idempotency key, made when the attempt starts and sent again by any retry of it (a double click, a
 * resend after a lost answer): the server then returns the attempt's one order instead of a second. A
 * changed cart is a new attempt with a new key. Refusals that concern lines (a price that moved, stock
 * that ran out, a product withdrawn) are shown on those lines, with the cart re-read.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useRef, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { track } from '../analytics.ts';
import { errorInfo } from '../errors.ts';
import { RequireUser } from '../session.tsx';
import { type RouterOutputs, useTRPC } from '../trpc.ts';
import { Field, fieldIssues } from '../ui/form.tsx';
import { money, newKey } from '../ui/format.ts';
import { Empty, ErrorNotice, Loading } from '../ui/status.tsx';
import { useCartAnswer } from './cartCache.ts';
import './store.css';

type CartLine = RouterOutputs['cart']['get']['lines'][number];

/** What a refused checkout said about each line, by product id. */
type LineProblems = Record<string, string>;

function lineProblems(error: unknown, currency: string): LineProblems {
  const info = errorInfo(error);
  const problems: LineProblems = {};
  const details = info.details ?? {};
  const lines = Array.isArray(details.lines) ? details.lines : [];
  // Line details are the catalogue's per-code shape (see packages/orders checkout.ts), read field by field.
  for (const line of lines) {
    if (!line || typeof line !== 'object' || !('productId' in line) || typeof line.productId !== 'string') continue;
    const available = 'available' in line ? String(line.available) : '?';
    const requested = 'requested' in line ? String(line.requested) : '?';
    problems[line.productId] =
      info.appCode === 'OUT_OF_STOCK'
        ? `OUT_OF_STOCK: only ${available} left (you asked for ${requested}).`
        : `${info.appCode ?? info.code}: ${info.message}`;
  }
  if (info.appCode === 'PRICE_CHANGED' && typeof details.productId === 'string') {
    const now = typeof details.priceCents === 'number' ? money(details.priceCents, currency) : 'a new price';
    problems[details.productId] = `PRICE_CHANGED: the price is now ${now}.`;
  }
  return problems;
}

function Line({ line, currency, problem }: { line: CartLine; currency: string; problem?: string | undefined }) {
  const trpc = useTRPC();
  const onCart = { onSuccess: useCartAnswer() };
  const update = useMutation(trpc.cart.updateItem.mutationOptions(onCart));
  const remove = useMutation(trpc.cart.removeItem.mutationOptions(onCart));
  const issues = fieldIssues(update.error);
  const notes = [
    problem,
    !line.available ? 'No longer available: remove it to check out.' : null,
    line.priceChanged && line.previousPriceCents !== null
      ? `Price changed from ${money(line.previousPriceCents, currency)} to ${money(line.unitPriceCents, currency)}.`
      : null,
    line.available && line.insufficientStock ? `Only ${line.stock} in stock.` : null,
  ].filter(Boolean);
  return (
    <li className="cart-line" data-product-id={line.productId} aria-label={line.name}>
      <Link to={`/products/${encodeURIComponent(line.slug)}`}>{line.name}</Link>
      <Field
        label="Quantity"
        type="number"
        min={1}
        max={99}
        defaultValue={line.quantity}
        issue={issues.quantity}
        onBlur={(e) => {
          const quantity = Number(e.target.value);
          if (quantity !== line.quantity) update.mutate({ productId: line.productId, quantity });
        }}
      />
      <span className="num">{money(line.unitPriceCents, currency)} each</span>
      <strong className="num">{money(line.lineTotalCents, currency)}</strong>
      <button type="button" className="secondary" onClick={() => remove.mutate({ productId: line.productId })}>
        Remove<span className="sr-only"> {line.name}</span>
      </button>
      {notes.length > 0 ? (
        <p className="problem warn" role="alert">
          {notes.join(' ')}
          {line.priceChanged && line.available ? (
            <>
              {' '}
              <button
                type="button"
                className="secondary"
                onClick={() => update.mutate({ productId: line.productId, quantity: line.quantity })}
              >
                Accept the new price
              </button>
            </>
          ) : null}
        </p>
      ) : null}
      {Object.keys(issues).length === 0 ? <ErrorNotice error={update.error ?? remove.error} /> : null}
    </li>
  );
}

const TOKENS = [
  ['tok_visa', 'paid'],
  ['tok_chargeDeclined', 'declined: the order ends payment_failed'],
  ['tok_processingError', 'fails a few times, then paid (the worker retries)'],
  ['anything else', 'declined as an invalid token'],
] as const;

function CartPage() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const cart = useQuery(trpc.cart.get.queryOptions());
  const [token, setToken] = useState('tok_visa');
  // The current attempt: its key and the cart it was made for (a different cart is another attempt).
  const attempt = useRef<{ key: string; cart: string } | null>(null);
  const checkout = useMutation(
    trpc.orders.checkout.mutationOptions({
      onSuccess: (order) => {
        attempt.current = null;
        track({ name: 'checkout_completed', props: { orderId: order.id, totalCents: order.totalCents } });
        void queryClient.invalidateQueries({ queryKey: trpc.cart.get.queryKey() });
        navigate(`/orders/${order.id}`);
      },
      onError: (err) => {
        // A refusal ends the attempt; a lost answer does not (a retry must reuse the key).
        if (errorInfo(err).code !== 'NETWORK') attempt.current = null;
        void queryClient.invalidateQueries({ queryKey: trpc.cart.get.queryKey() });
      },
    }),
  );

  if (cart.isPending) return <Loading what="Loading your cart" />;
  if (cart.error) return <ErrorNotice error={cart.error} />;
  const c = cart.data;
  const problems = checkout.error ? lineProblems(checkout.error, c.currency) : {};
  const issues = fieldIssues(checkout.error);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (checkout.isPending) return;
    const fingerprint = JSON.stringify([c.lines.map((l) => [l.productId, l.quantity]), c.totalCents, token]);
    if (attempt.current?.cart !== fingerprint) attempt.current = { key: newKey(), cart: fingerprint };
    track({ name: 'checkout_started' });
    checkout.mutate({ idempotencyKey: attempt.current.key, paymentToken: token, expectedTotalCents: c.totalCents });
  };

  return (
    <section>
      <h1>Your cart</h1>
      {c.lines.length === 0 ? (
        <Empty>
          Your cart is empty. <Link to="/">Browse the catalogue</Link>
        </Empty>
      ) : (
        <>
          <ul className="stack plain" aria-label="Cart lines">
            {c.lines.map((line) => (
              <Line key={line.productId} line={line} currency={c.currency} problem={problems[line.productId]} />
            ))}
          </ul>
          <dl className="totals" aria-label="Totals">
            <dt>Subtotal</dt>
            <dd>{money(c.subtotalCents, c.currency)}</dd>
            <dt>Tax ({(c.taxRateBps / 100).toFixed(2)} %)</dt>
            <dd>{money(c.taxCents, c.currency)}</dd>
            <dt className="total">Total</dt>
            <dd className="total" data-testid="cart-total">
              {money(c.totalCents, c.currency)}
            </dd>
          </dl>
          <h2>Checkout</h2>
          <form onSubmit={submit}>
            <Field
              label="Card token (sandbox)"
              value={token}
              onChange={(e) => setToken(e.target.value)}
              issue={issues.paymentToken}
              autoComplete="off"
              required
              hint={
                <span className="tokens">
                  The sandbox takes tokens, not card numbers:{' '}
                  {TOKENS.map(([t, what], i) => (
                    <span key={t}>
                      {i > 0 ? '; ' : ''}
                      <code>{t}</code> {what}
                    </span>
                  ))}
                  .
                </span>
              }
            />
            <button type="submit" disabled={checkout.isPending || !c.checkoutReady}>
              {checkout.isPending ? 'Placing your order…' : `Place order · ${money(c.totalCents, c.currency)}`}
            </button>
            {!c.checkoutReady ? <p className="muted">Fix the lines marked above to check out.</p> : null}
          </form>
          {Object.keys(issues).length === 0 ? <ErrorNotice error={checkout.error} title="Checkout refused" /> : null}
        </>
      )}
    </section>
  );
}

export default function Cart() {
  return <RequireUser>{() => <CartPage />}</RequireUser>;
}
