/** Reconnection after a dropped WebSocket: at once, then quickly, capped at 5 s, with jitter. */
import { reconnectDelayMs } from '@keelson/client';
import { describe, expect, it } from 'vitest';

describe('reconnectDelayMs', () => {
  it('retries at once, then doubles from 0.5 s up to 5 s, each delay jittered between half and all of it', () => {
    expect(reconnectDelayMs(0)).toBe(0);
    for (const [attempt, base] of [
      [1, 500],
      [2, 1000],
      [3, 2000],
      [4, 4000],
      [5, 5000],
      [20, 5000],
    ] as const) {
      const delays = Array.from({ length: 200 }, () => reconnectDelayMs(attempt));
      expect(Math.min(...delays)).toBeGreaterThanOrEqual(base / 2);
      expect(Math.max(...delays)).toBeLessThanOrEqual(base);
      expect(new Set(delays).size).toBeGreaterThan(1);
    }
  });
});
