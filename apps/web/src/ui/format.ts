/** Amounts are integers in minor units (cents) with an ISO currency, as the API sends them. */
export function money(minor: number, currency: string): string {
  return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(minor / 100);
}

export function dateTime(d: Date): string {
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A fresh idempotency key: one per checkout attempt, reused for that attempt's retries. */
export function newKey(): string {
  return crypto.randomUUID();
}
