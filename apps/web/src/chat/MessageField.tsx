/**
 * A message being written: the labelled text area, its BAD_REQUEST issue beside it (tied with
 * aria-describedby), and any other failure of the send below (TOO_MANY_REQUESTS with its wait).
 */
import { useId } from 'react';
import { describeError, errorInfo } from '../errors.ts';

export function MessageField({
  label,
  value,
  onChange,
  error,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  /** The failed send, if the last one failed. */
  error: unknown;
}) {
  const id = useId();
  const info = error ? errorInfo(error) : null;
  const issue = info?.fields.body;
  return (
    <>
      <label htmlFor={id}>{label}</label>
      <textarea
        id={id}
        value={value}
        rows={3}
        // Longer than the API allows, so that an over-long message gets the API's words, not silence.
        maxLength={4000}
        aria-invalid={issue ? true : undefined}
        aria-describedby={issue ? `${id}-issue` : undefined}
        onChange={(e) => onChange(e.target.value)}
      />
      {issue ? (
        <small id={`${id}-issue`} className="issue">
          {issue}
        </small>
      ) : null}
      {info && !issue ? (
        <div className="error" role="alert" data-code={info.code}>
          {info.code === 'TOO_MANY_REQUESTS' && info.retryAfterSeconds
            ? `You are sending messages too fast. Try again in ${info.retryAfterSeconds} s.`
            : describeError(error)}
        </div>
      ) : null}
    </>
  );
}
