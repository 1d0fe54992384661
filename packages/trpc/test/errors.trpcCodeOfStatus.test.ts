/**
 * The one translation from the error catalogue to tRPC: every catalogue status has a tRPC code whose
 * HTTP status (tRPC's own table) is that status, and docs/errors.md names that code beside it.
 */
import { readFileSync } from 'node:fs';
import { AppError, type AppErrorCode, errorCatalogue } from '@keelson/errors';
import { appError, trpcCodeOfStatus } from '@keelson/trpc';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { describe, expect, it } from 'vitest';

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

describe('catalogue → tRPC', () => {
  it.each(Object.keys(errorCatalogue) as AppErrorCode[])('%s keeps its HTTP status over tRPC', (code) => {
    const error = appError(new AppError(code));
    expect(getHTTPStatusCodeFromError(error)).toBe(errorCatalogue[code].status);
    expect(error.cause).toBeInstanceOf(AppError);
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\``));
    expect(row?.split('|')[2]?.trim()).toBe(`\`${trpcCodeOfStatus[errorCatalogue[code].status]}\``);
  });
});
