/**
 * Labelled form fields whose BAD_REQUEST issue (from the API's field issues) shows beside the field, tied
 * to it with aria-describedby so a screen reader reads it with the field.
 */
import { type InputHTMLAttributes, type ReactNode, useId } from 'react';
import { errorInfo } from '../errors.ts';

/** The field issues of a failed mutation, keyed by input path. */
export function fieldIssues(error: unknown): Record<string, string> {
  return error ? errorInfo(error).fields : {};
}

export function Field({
  label,
  issue,
  hint,
  ...input
}: { label: string; issue?: string | undefined; hint?: ReactNode } & InputHTMLAttributes<HTMLInputElement>) {
  const id = useId();
  const issueId = `${id}-issue`;
  const hintId = `${id}-hint`;
  const describedBy = [issue ? issueId : null, hint ? hintId : null].filter(Boolean).join(' ') || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} aria-invalid={issue ? true : undefined} aria-describedby={describedBy} {...input} />
      {hint ? (
        <small id={hintId} className="muted">
          {hint}
        </small>
      ) : null}
      {issue ? (
        <small id={issueId} className="issue">
          {issue}
        </small>
      ) : null}
    </div>
  );
}
