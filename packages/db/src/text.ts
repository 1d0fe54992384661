/**
 * What text may be stored, in three rules (regular expressions, so every package's zod schema can use
 * them with `.regex(pattern, message)`):
 *
 * - **storable**, every string: no NUL (U+0000), which PostgreSQL's `text` and `jsonb` refuse, and no
 *   unpaired UTF-16 surrogate, which has no UTF-8 form (the driver would send U+FFFD, jsonb refuses its
 *   `\ud800` escape). Either would fail inside a query as an internal error. The tRPC layer applies this
 *   one to every string of every procedure's input; the schemas below it repeat it for direct callers.
 * - **single line**, what is shown as one line (a name, a product name, a search, a payment token):
 *   storable, and no control character at all (C0, DEL, C1), no line or paragraph separator, and no
 *   bidirectional embedding, override or isolate, which reorder the text around a name wherever it is
 *   shown (an email, an admin list) and so let it impersonate another.
 * - **multi line**, free text (a description, a note): storable, tabs and line breaks allowed, no other
 *   control character.
 *
 * Passwords and tokens are only storable: they are compared, never shown, and anything may be in them.
 */

export interface TextRule {
  pattern: RegExp;
  message: string;
}

export const storableText: TextRule = {
  pattern: /^[^\0\p{Cs}]*$/u,
  message: 'Must not contain NUL characters or unpaired surrogates',
};

export const singleLineText: TextRule = {
  pattern: /^[^\p{Cc}\p{Cs}\u2028\u2029\u202A-\u202E\u2066-\u2069]*$/u,
  message: 'Must be one line of text, without control characters',
};

export const multiLineText: TextRule = {
  pattern: /^(?:[\t\n\r]|[^\p{Cc}\p{Cs}])*$/u,
  message: 'Must not contain control characters other than tabs and line breaks',
};

/** Why PostgreSQL could not store this string, or null when it can. */
export function unstorableText(value: string): string | null {
  if (value.includes('\0')) return 'Must not contain NUL characters (U+0000)';
  if (!value.isWellFormed()) return 'Must not contain unpaired UTF-16 surrogates';
  return null;
}
