/**
 * Reading the credential a request presents never throws: a malformed cookie or Authorization header is
 * no credential at all (the request is anonymous), never an error.
 */
import { readBearerToken, readSessionCookie } from '@keelson/auth';
import { describe, expect, it } from 'vitest';

const config = { idleTimeoutMs: 60_000, maxAgeMs: 120_000, cookieSecure: false };
const token = `${'A'.repeat(20)}-_${'z9'.repeat(10)}x`;

describe('readSessionCookie', () => {
  it('finds the token among other cookies, with or without spaces', () => {
    expect(token).toHaveLength(43);
    expect(readSessionCookie(config, `keelson_session=${token}`)).toBe(token);
    expect(readSessionCookie(config, `a=1;keelson_session=${token} ; b=2`)).toBe(token);
    expect(readSessionCookie({ ...config, cookieSecure: true }, `__Host-keelson_session=${token}`)).toBe(token);
    expect(readSessionCookie({ ...config, cookieSecure: true }, `keelson_session=${token}`)).toBeNull();
  });

  it.each([
    'keelson_session=%%%',
    'keelson_session=%E0%A4%A',
    'keelson_session=',
    'keelson_session',
    `keelson_session=${token}!`,
    `keelson_session=${'a'.repeat(257)}`,
    `keelson_session="${token}"`,
    'keelson_session=\u0000',
    ';;;=;=',
    '%%%=%%%',
  ])('answers no session for %j, without throwing', (header) => {
    expect(readSessionCookie(config, header)).toBeNull();
  });

  it('skips a malformed duplicate and a stranger’s malformed cookie', () => {
    expect(readSessionCookie(config, `other=%%%; keelson_session=%%%; keelson_session=${token}`)).toBe(token);
  });
});

describe('readBearerToken', () => {
  it('reads the token, whatever the case of the scheme', () => {
    expect(readBearerToken(`Bearer ${token}`)).toBe(token);
    expect(readBearerToken(`bearer ${token}`)).toBe(token);
  });

  it.each(['Bearer', 'Bearer ', 'Bearer %%%', `Basic ${token}`, `Bearer ${token} extra`, `Bearer ${token}%`, token])(
    'answers no token for %j',
    (header) => {
      expect(readBearerToken(header)).toBeNull();
    },
  );
});
