import { deviceCookie, readDeviceCookie } from '@keelson/auth';
import { describe, expect, it } from 'vitest';

const plain = { idleTimeoutMs: 60_000, maxAgeMs: 120_000, cookieSecure: false };
const secure = { ...plain, cookieSecure: true };
const token = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123-_x'; // 43 base64url characters, as newToken makes

describe('device cookie', () => {
  it('is HttpOnly, SameSite=Lax, host-wide and lasts 180 days; Secure and __Host- over https', () => {
    expect(deviceCookie(plain, token)).toBe(
      `keelson_device=${token}; Max-Age=15552000; Path=/; HttpOnly; SameSite=Lax`,
    );
    expect(deviceCookie(secure, token)).toBe(
      `__Host-keelson_device=${token}; Max-Age=15552000; Path=/; HttpOnly; SameSite=Lax; Secure`,
    );
  });

  it('reads back what it sets, among other cookies, and only under its own name', () => {
    expect(readDeviceCookie(plain, `a=1; keelson_device=${token}; keelson_session=x`)).toBe(token);
    expect(readDeviceCookie(secure, `__Host-keelson_device=${token}`)).toBe(token);
    // Over https a plain-named cookie could have been planted by a sibling subdomain: not ours.
    expect(readDeviceCookie(secure, `keelson_device=${token}`)).toBeNull();
    expect(readDeviceCookie(plain, `xkeelson_device=${token}`)).toBeNull();
  });

  it('reads anything else as no token, never as an error', () => {
    for (const header of [
      '',
      ';;;',
      'keelson_device',
      'keelson_device=',
      'keelson_device=%%%',
      `keelson_device=${token}x`,
    ]) {
      expect(readDeviceCookie(plain, header)).toBeNull();
    }
  });
});
