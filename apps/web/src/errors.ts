/**
 * What the app shows for a failed call. Every error the API sends has the shape of its error formatter
 * (code, appCode, field issues, details, request id), typed here from the router through the client.
 */

import type { AppRouter } from '@keelson/client';
import { TRPCClientError } from '@keelson/client';

export type ApiError = TRPCClientError<AppRouter>;

export function isApiError(err: unknown): err is ApiError {
  return err instanceof TRPCClientError;
}

export interface ErrorInfo {
  /** tRPC's code: BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT, TOO_MANY_REQUESTS, … */
  code: string;
  /** The API's catalogue code (OUT_OF_STOCK, PRICE_CHANGED, …), when there is one. */
  appCode: string | null;
  message: string;
  requestId: string | null;
  /** Field issues of a BAD_REQUEST, keyed by the field's path (`items.0.quantity`). */
  fields: Record<string, string>;
  /** For TOO_MANY_REQUESTS: seconds to wait. */
  retryAfterSeconds: number | null;
  details: Record<string, unknown> | null;
}

export function errorInfo(err: unknown): ErrorInfo {
  if (!isApiError(err) || !err.data) {
    // No answer at all (offline, the server restarting) or a transport failure.
    return {
      code: 'NETWORK',
      appCode: null,
      message: 'The store cannot be reached right now; check your connection and try again.',
      requestId: null,
      fields: {},
      retryAfterSeconds: null,
      details: null,
    };
  }
  const data = err.data;
  const fields: Record<string, string> = {};
  for (const issue of data.issues ?? []) {
    const key = issue.path.join('.');
    fields[key] ??= issue.message;
  }
  const details = data.details ?? null;
  const retry = details?.retryAfterSeconds;
  return {
    code: data.code,
    appCode: data.appCode ?? null,
    message: err.message,
    requestId: data.requestId ?? null,
    fields,
    retryAfterSeconds: typeof retry === 'number' ? retry : null,
    details,
  };
}

/** One sentence for a person: the API's message, with what to do about it where there is something. */
export function describeError(err: unknown): string {
  const info = errorInfo(err);
  if (info.code === 'TOO_MANY_REQUESTS' && info.retryAfterSeconds) {
    return `${info.message} Try again in ${info.retryAfterSeconds} s.`;
  }
  if (info.code === 'BAD_REQUEST' && Object.keys(info.fields).length > 0)
    return 'Please correct the fields marked below.';
  return info.message;
}

/** The session is missing or ended (not a wrong password, which is UNAUTHORIZED too): sign in again. */
export function isSignedOut(err: unknown): boolean {
  const info = errorInfo(err);
  return info.code === 'UNAUTHORIZED' && info.appCode !== 'INVALID_CREDENTIALS';
}
