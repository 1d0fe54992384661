/** A subscriber loop's wake-up: a waiting loop wakes; a wake with nobody waiting is kept for the next wait. */
import { wakeUp } from '@keelson/realtime';
import { describe, expect, it } from 'vitest';

const settled = async (p: Promise<void>) => {
  let done = false;
  void p.then(() => {
    done = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  return done;
};

describe('wakeUp', () => {
  it('wakes a waiter, keeps one early wake for the next wait, and no more', async () => {
    const w = wakeUp();
    const first = w.wait();
    expect(await settled(first)).toBe(false);
    w.wake();
    expect(await settled(first)).toBe(true);
    // Woken while busy: the next wait returns at once, once.
    w.wake();
    w.wake();
    expect(await settled(w.wait())).toBe(true);
    expect(await settled(w.wait())).toBe(false);
  });
});
