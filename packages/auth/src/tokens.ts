import { createHash, randomBytes } from 'node:crypto';

/** 256 random bits, URL-safe: session tokens and emailed tokens alike. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** What is stored instead of a token: its SHA-256, hex. Tokens carry 256 bits, so no salt or slow hash is needed. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
