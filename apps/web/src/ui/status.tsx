/** Loading, empty, error and live states, drawn the same way on every page. */
import type { ReactNode } from 'react';
import { describeError, errorInfo } from '../errors.ts';

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p className="muted" role="status" aria-live="polite">
      {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

/** A failed call: the API's message (internal errors carry only a request id), or nothing. */
export function ErrorNotice({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const info = errorInfo(error);
  return (
    <div className="error" role="alert" data-code={info.code} data-app-code={info.appCode ?? undefined}>
      {title ? <strong>{title}: </strong> : null}
      {describeError(error)}
    </div>
  );
}

export type LiveState = 'idle' | 'connecting' | 'pending' | 'error';

/** Whether live data is flowing: "live", "reconnecting…", or the error that ended it. */
export function LiveIndicator({ state, label = 'Live' }: { state: LiveState; label?: string }) {
  const text =
    state === 'pending' ? label : state === 'connecting' ? 'Reconnecting…' : state === 'error' ? 'Not live' : '';
  if (!text) return null;
  return (
    <span className={`live live-${state}`} role="status" aria-live="polite" data-live={state}>
      {text}
    </span>
  );
}
