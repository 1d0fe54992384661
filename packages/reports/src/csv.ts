/**
 * CSV as RFC 4180 has it: comma-separated, CRLF line ends, a field quoted (with its quotes doubled)
 * when it holds a comma, a quote or a line break.
 *
 * Text that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'`: spreadsheets
 * would otherwise run a product name such as `=HYPERLINK(...)` as a formula when an admin opens the file
 * (OWASP "CSV injection"). Numbers are written as they are.
 */
export type CsvValue = string | number | bigint | null;

const NEEDS_QUOTES = /[",\r\n]/;
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvField(value: CsvValue): string {
  if (value === null) return '';
  if (typeof value !== 'string') return String(value);
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(values: readonly CsvValue[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}
