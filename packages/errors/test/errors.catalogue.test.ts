import { readFileSync } from 'node:fs';
import { AppError, coerceError, errorCatalogue } from '@keelson/errors';
import { describe, expect, it } from 'vitest';

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

describe('error catalogue', () => {
  it.each(Object.entries(errorCatalogue))('documents %s in docs/errors.md with its HTTP status', (code, entry) => {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\``));
    expect(row, `docs/errors.md has no row for ${code}`).toBeDefined();
    expect(row?.split('|')[3]?.trim()).toBe(String(entry.status));
  });

  it('has no documented code that the catalogue lacks', () => {
    const documented = [...doc.matchAll(/^\| `([A-Z_]+)`/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(errorCatalogue).sort());
  });

  it('AppError carries code, default message, details and cause', () => {
    const cause = new Error('low level');
    const err = new AppError('PRODUCT_NOT_FOUND', { details: { id: 'x' }, cause });
    expect(err).toMatchObject({ code: 'PRODUCT_NOT_FOUND', status: 404, details: { id: 'x' }, cause });
    expect(err.message).toBe(errorCatalogue.PRODUCT_NOT_FOUND.message);
  });

  it('coerceError keeps non-errors as the cause', () => {
    expect(coerceError('boom')).toMatchObject({ message: 'boom', cause: 'boom' });
    const e = new Error('x');
    expect(coerceError(e)).toBe(e);
  });
});
