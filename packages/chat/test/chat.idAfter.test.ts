/** Message ids follow a conversation's commit order, whatever the clocks of the processes writing. */
import { idAfter } from '@keelson/chat';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

describe('idAfter', () => {
  it('is a fresh UUIDv7 when the clock is ahead of the newest message', () => {
    const id = idAfter('00000000-0000-7000-8000-000000000000');
    expect(z.uuidv7().parse(id)).toBe(id);
    expect(id > '00000000-0000-7000-8000-000000000000').toBe(true);
  });

  it('follows a newest id from the future (another process, the same millisecond): one more in its random bits', () => {
    const after = 'ffffffff-ffff-7fff-bfff-fffffffffffe';
    const id = idAfter(after);
    expect(id).toBe('ffffffff-ffff-7fff-bfff-ffffffffffff');
    expect(z.uuidv7().parse(id)).toBe(id);
    expect(idAfter('ffffffff-ffff-7123-8000-00000000ffff')).toBe('ffffffff-ffff-7123-8000-000000010000');
    // The carry crosses the hyphen but never the variant bits.
    expect(idAfter('ffffffff-ffff-7123-8fff-ffffffffffff')).toBe('ffffffff-ffff-7123-9000-000000000000');
  });

  it('refuses rather than wrap past the last value of a millisecond', () => {
    expect(() => idAfter('ffffffff-ffff-7fff-bfff-ffffffffffff')).toThrow(/no UUIDv7 follows/);
  });
});
