/**
 * Analytics from what people do (product views, searches, add to cart, checkout), batched: queued and
 * sent with `analytics.track` at most every few seconds, up to the API's 100 per call, and once more when
 * the tab is hidden. Never in the way: a failed send drops its batch (analytics may lose a few events;
 * the page must not break or retry forever).
 */
import type { KeelsonClient, RouterInputs } from '@keelson/client';

type TrackedEvent = RouterInputs['analytics']['track']['events'][number];

const FLUSH_MS = 3_000;
const MAX_PER_CALL = 100;
const MAX_QUEUED = 500;

const queue: TrackedEvent[] = [];
let client: KeelsonClient | null = null;
let timer: ReturnType<typeof setTimeout> | null = null;

export function startAnalytics(c: KeelsonClient): void {
  client = c;
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') flush();
  });
}

export function track(event: Omit<TrackedEvent, 'at'>): void {
  if (queue.length >= MAX_QUEUED) return;
  queue.push({ ...event, at: new Date() });
  timer ??= setTimeout(flush, FLUSH_MS);
}

export function flush(): void {
  if (timer) clearTimeout(timer);
  timer = null;
  while (client && queue.length > 0) {
    const events = queue.splice(0, MAX_PER_CALL);
    client.analytics.track.mutate({ events }).catch(() => {});
  }
}
