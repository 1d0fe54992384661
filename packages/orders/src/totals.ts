/**
 * Money arithmetic for carts and orders, in integer minor units (cents) only.
 *
 * Rounding rule: tax is computed once per order, on the subtotal, and rounded half-up to the cent
 * (0.5 cent rounds up). Per-order rounding keeps the total independent of how lines are split: two
 * lines of one unit cost the same tax as one line of two. Computed with BigInt, so no amount a cart
 * can hold (99 units × 100 lines × the maximum price × the maximum rate) loses precision.
 */

export interface PricedLine {
  unitPriceCents: number;
  quantity: number;
}

export interface Totals {
  lineTotalsCents: number[];
  subtotalCents: number;
  taxRateBps: number;
  taxCents: number;
  totalCents: number;
}

/** `numerator / denominator` rounded half-up, for non-negative values. */
export function divideHalfUp(numerator: bigint, denominator: bigint): bigint {
  return (numerator * 2n + denominator) / (denominator * 2n);
}

/** Tax on a subtotal at a rate in basis points (1 % = 100 bps), rounded half-up to the cent. */
export function taxOn(subtotalCents: number, taxRateBps: number): number {
  return Number(divideHalfUp(BigInt(subtotalCents) * BigInt(taxRateBps), 10_000n));
}

export function computeTotals(lines: readonly PricedLine[], taxRateBps: number): Totals {
  const lineTotalsCents = lines.map((l) => l.unitPriceCents * l.quantity);
  const subtotalCents = lineTotalsCents.reduce((a, b) => a + b, 0);
  const taxCents = taxOn(subtotalCents, taxRateBps);
  return { lineTotalsCents, subtotalCents, taxRateBps, taxCents, totalCents: subtotalCents + taxCents };
}
