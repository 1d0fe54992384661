/**
 * Masks what may be personal or secret in free text: log messages, error messages and stacks, span
 * statuses. Key-based redaction (pino's `redact`) cannot see inside a message, and errors repeat the
 * values they choke on: PostgreSQL's `invalid input syntax for type uuid: "…"` and `Key (email)=(…)`,
 * an SMTP server's `recipients were rejected: <…>`, an ORM's `({ email: '…' })`.
 */
const EMAIL = /[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+/gu;
// Session, reset and payment tokens, argon2 hashes: long runs of base64url/hex characters with both
// letters and digits (so task names such as `catalog__refresh_view_count` stay), UUIDs (ids) excepted.
const TOKEN =
  /\$argon2[\w$=,+/.-]+|(?<![\w-])(?![0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![\w-]))(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]{24,}(?![\w-])/g;
// `: "value"` (PostgreSQL's input errors), `=(value)` and `contains (row)` (its DETAIL lines).
const PG_INPUT = /: "[^"]*"/g;
const PG_DETAIL = /(=|contains )\([^)]*\)/g;
// `{ key: 'value' }`, as ORMs print where-clauses (`User not found ({ email: '…' })`); only inside
// braces, so graphile-worker's `task names: 'a', 'b'` stay.
const OBJECT_LITERAL = /\{[^{}\n]*\}/g;
const QUOTED_VALUE = /(\w+: )'[^'\n]*'/g;

export function redactText(text: string): string {
  return text
    .replace(EMAIL, '[email]')
    .replace(TOKEN, '[redacted]')
    .replace(PG_INPUT, ': "?"')
    .replace(PG_DETAIL, '$1(?)')
    .replace(OBJECT_LITERAL, (object) => object.replace(QUOTED_VALUE, "$1'?'"));
}

/** Fields of driver and mailer errors that hold the data they refused (pg's `detail`, nodemailer's `rejected`). */
const ERROR_DATA_FIELDS = ['detail', 'where', 'rejected', 'rejectedErrors', 'response', 'envelope', 'parameters'];

/** A serialised error (pino's `err`) with its message and stack masked and its data fields dropped. */
export function redactSerializedError<T extends Record<string, unknown>>(err: T): T {
  const out: Record<string, unknown> = { ...err };
  for (const key of ERROR_DATA_FIELDS) delete out[key];
  if (typeof out.message === 'string') out.message = redactText(out.message);
  if (typeof out.stack === 'string') {
    // The first line repeats the message; the frames below are code, whose long names stay.
    const frames = out.stack.search(/\n\s+at /);
    out.stack =
      frames === -1 ? redactText(out.stack) : redactText(out.stack.slice(0, frames)) + out.stack.slice(frames);
  }
  if (out.cause && typeof out.cause === 'object')
    out.cause = redactSerializedError(out.cause as Record<string, unknown>);
  return out as T;
}
