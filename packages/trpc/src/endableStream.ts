/**
 * A subscription's stream that can be ended from outside with an error (a revoked session, a stopping
 * process), and that runs its clean-up exactly once however it ends: done, failed, ended, stopped by
 * the client, or never iterated at all (an async generator that never started skips its `finally`,
 * so a plain generator would leak the slot it holds).
 */
import type { TRPCError } from '@trpc/server';

export interface EndableStream<T> {
  iterable: AsyncIterableIterator<T>;
  /** Ends the stream: a pending or next `next()` rejects with this error. The first call wins. */
  end(error: TRPCError): void;
}

const ignore = () => {};

export function endableStream<T>(source: AsyncIterable<T>, onFinish: () => void): EndableStream<T> {
  const inner = source[Symbol.asyncIterator]();
  let finished = false;
  let endedWith: TRPCError | null = null;
  /** Wakes the `next()` in progress; one promise per call, so a long stream accumulates no reactions. */
  let interrupt: ((error: TRPCError) => void) | null = null;
  let pending = false;

  const finish = () => {
    if (finished) return;
    finished = true;
    onFinish();
  };
  /**
   * Stops the source without waiting when one of its `next()` calls is still pending: that call only
   * settles once the transport aborts the subscription's signal, which it does after hearing from us.
   */
  const closeSource = async () => {
    const ret = inner.return?.();
    if (!ret) return;
    if (pending) ret.catch(ignore);
    else await ret;
  };

  const iterable: AsyncIterableIterator<T> = {
    async next() {
      if (finished) {
        if (endedWith) throw endedWith;
        return { done: true, value: undefined };
      }
      if (endedWith) {
        finish();
        await closeSource();
        throw endedWith;
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
      return iterable;
    },
  };

  return {
    iterable,
    end(error) {
      if (endedWith || finished) return;
      endedWith = error;
      interrupt?.(error);
    },
  };
}
