import { describe, expect, it } from 'vitest';
import { computeTotals, divideHalfUp, taxOn } from '../src/totals.ts';

describe('money', () => {
  it('rounds half-up, exactly at the half cent', () => {
    expect(divideHalfUp(5n, 10n)).toBe(1n); // 0.5 → 1
    expect(divideHalfUp(4n, 10n)).toBe(0n); // 0.4 → 0
    expect(divideHalfUp(15n, 10n)).toBe(2n); // 1.5 → 2
    expect(divideHalfUp(25n, 10n)).toBe(3n); // 2.5 → 3 (not banker's 2)
    expect(divideHalfUp(0n, 10n)).toBe(0n);
  });

  it.each([
    // subtotal, rate (bps), tax: each at or next to a half cent
    [200, 825, 17], // 16.5 → 17
    [199, 825, 16], // 16.4175 → 16
    [1000, 5, 1], // 0.5 → 1
    [999, 5, 0], // 0.4995 → 0
    [1, 5000, 1], // 0.5 → 1
    [1, 4999, 0], // 0.4999 → 0
    [4699, 825, 388], // 387.6675 → 388
    [0, 825, 0],
    [12_345, 0, 0],
    [12_345, 10_000, 12_345],
  ])('tax on %i at %i bps is %i', (subtotal, rate, tax) => {
    expect(taxOn(subtotal, rate)).toBe(tax);
  });

  it('applies the rate once to the subtotal, so splitting lines never changes the tax', () => {
    // Per line, 3 × round(0.33 × 8.25 %) would be 3 × 0.03 = 0.09; per order it is round(0.0817) = 0.08.
    const split = computeTotals(
      [
        { unitPriceCents: 33, quantity: 1 },
        { unitPriceCents: 33, quantity: 1 },
        { unitPriceCents: 33, quantity: 1 },
      ],
      825,
    );
    const merged = computeTotals([{ unitPriceCents: 33, quantity: 3 }], 825);
    expect(split).toMatchObject({ subtotalCents: 99, taxCents: 8, totalCents: 107 });
    expect(merged.taxCents).toBe(split.taxCents);
    expect(split.lineTotalsCents).toEqual([33, 33, 33]);
  });

  it('stays exact for the largest cart (100 lines × 99 units at the maximum price, 100 % tax)', () => {
    const lines = Array.from({ length: 100 }, () => ({ unitPriceCents: 100_000_000, quantity: 99 }));
    const totals = computeTotals(lines, 10_000);
    expect(totals.subtotalCents).toBe(990_000_000_000);
    expect(totals.taxCents).toBe(990_000_000_000);
    expect(Number.isSafeInteger(totals.totalCents)).toBe(true);
  });
});
