import { hash, verify } from '@node-rs/argon2';

/**
 * argon2id with OWASP's Password Storage Cheat Sheet parameters: m = 19 MiB, t = 2, p = 1.
 * `@node-rs/argon2` runs on libuv's thread pool, so hashing never blocks the event loop.
 */
const ARGON2ID = 2;
const params = { algorithm: ARGON2ID, memoryCost: 19 * 1024, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, params);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    // A malformed stored hash is a failed check, never an exception that reveals anything.
    return false;
  }
}
