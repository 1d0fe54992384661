/**
 * One live subscription as the transport-independent middleware sees it: a stream that can be ended
 * from outside with an error (a revoked session, a stopping process), with clean-ups that run exactly
 * once however it ends: done, failed, ended, stopped by the client, or never iterated at all (an async
 * generator that never started skips its `finally`, so a plain generator would leak what it holds).
 *
 * Why a signal of its own: tRPC aborts a procedure's `opts.signal` when the client leaves, but not when
 * the server ends an SSE stream, so a generator waiting for its next event would wait forever.
 * `streamEvents` listens to both; a subscription written without it should too (`subscriptionSignal`).
 */
import type { TRPCError } from '@trpc/server';

export interface LiveSubscription {
  /** Aborted once the subscription ends, whatever ended it. */
  readonly signal: AbortSignal;
  /** Ends it from outside: the client gets this error. The first call wins; later ones do nothing. */
  end(error: TRPCError): void;
  /** Runs `cleanup` once when it ends (at once if it has). */
  defer(cleanup: () => void): void;
  /** The procedure's stream, made endable. Call once. */
  wrap<T>(source: AsyncIterable<T>): AsyncIterableIterator<T>;
  /** Ends it without a stream (the procedure refused before returning one). */
  finish(): void;
}

const ignore = () => {};

export function createLiveSubscription(): LiveSubscription {
  const controller = new AbortController();
  const cleanups: (() => void)[] = [];
  let finished = false;
  let endedWith: TRPCError | null = null;
  /** Wakes the `next()` in progress; one promise per call, so a long stream accumulates no reactions. */
  let interrupt: ((error: TRPCError) => void) | null = null;

  const finish = () => {
    if (finished) return;
    finished = true;
    for (const cleanup of cleanups.splice(0)) cleanup();
    controller.abort();
  };

  const wrap = <T>(source: AsyncIterable<T>): AsyncIterableIterator<T> => {
    const inner = source[Symbol.asyncIterator]();
    let pending = false;
    /**
     * Stops the source without waiting when one of its `next()` calls is still pending: that call
     * settles only once our signal is aborted, which `finish()` does.
     */
    const closeSource = async () => {
      const ret = inner.return?.();
      if (!ret) return;
      if (pending) ret.catch(ignore);
      else await ret;
    };
    const iterator: AsyncIterableIterator<T> = {
      async next() {
        if (finished) {
          if (endedWith) throw endedWith;
          return { done: true, value: undefined };
        }
        if (endedWith) {
          const error = endedWith;
          finish();
          await closeSource();
          throw error;
        }
        pending = true;
        const step = inner.next();
        const outcome = await Promise.race([
          step.then(
            (r) => ({ kind: 'step' as const, r }),
            (err: unknown) => ({ kind: 'failed' as const, err }),
          ),
          new Promise<{ kind: 'ended'; error: TRPCError }>((resolve) => {
            interrupt = (error) => resolve({ kind: 'ended', error });
          }),
        ]);
        interrupt = null;
        if (outcome.kind === 'ended') {
          step.catch(ignore);
          finish();
          await closeSource();
          pending = false;
          throw outcome.error;
        }
        pending = false;
        if (outcome.kind === 'failed') {
          finish();
          throw outcome.err;
        }
        if (outcome.r.done) finish();
        return outcome.r;
      },
      async return() {
        finish();
        await closeSource();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  };

  return {
    signal: controller.signal,
    end(error) {
      if (endedWith || finished) return;
      endedWith = error;
      interrupt?.(error);
    },
    defer(cleanup) {
      if (finished) cleanup();
      else cleanups.push(cleanup);
    },
    wrap,
    finish,
  };
}

/** The signal a subscription generator should honour: the client's, and the server's own end. */
export function subscriptionSignal(
  ctx: { live?: LiveSubscription | null },
  signal: AbortSignal | undefined,
): AbortSignal | undefined {
  const own = ctx.live?.signal;
  if (!own) return signal;
  return signal ? AbortSignal.any([signal, own]) : own;
}
