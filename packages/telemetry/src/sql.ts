/**
 * What a SQL span may say about its statement. Statements bound with parameters (Kysely's) carry no
 * values, but MikroORM's entity queries inline theirs (`where "email" = 'ada@…'`), and so would any
 * hand-written statement: every literal is replaced before the text leaves the process, and the
 * operation and table are read off the text for the span's name (`SELECT product`), as the database
 * semantic conventions ask.
 */

/** `text` with every string, dollar-quoted and numeric literal replaced by `?`; identifiers and `$1` stay. */
export function sanitizeSql(text: string): string {
  let out = '';
  let i = 0;
  const n = text.length;
  const isIdent = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}_$]/u.test(c);
  while (i < n) {
    const c = text[i] as string;
    // -- comment to the end of the line, /* block */: dropped (a comment may quote anything).
    if (c === '-' && text[i + 1] === '-') {
      const end = text.indexOf('\n', i);
      i = end === -1 ? n : end;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? n : end + 2;
      continue;
    }
    // "quoted identifier": kept.
    if (c === '"') {
      let j = i + 1;
      while (j < n && !(text[j] === '"' && text[j + 1] !== '"')) j += text[j] === '"' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    // 'string', E'escaped', X'hex', B'bits', U&'unicode': one `?` (the prefix letter goes with it).
    if (c === "'") {
      const escapes = /[eE]$/.test(out) && !isIdent(out.at(-2));
      if (/[eExXbB]$/.test(out) && !isIdent(out.at(-2))) out = out.slice(0, -1);
      else if (/[uU]&$/.test(out)) out = out.slice(0, -2);
      let j = i + 1;
      while (j < n) {
        if (escapes && text[j] === '\\') j += 2;
        else if (text[j] === "'" && text[j + 1] === "'") j += 2;
        else if (text[j] === "'") break;
        else j += 1;
      }
      out += '?';
      i = j + 1;
      continue;
    }
    // $tag$ … $tag$ (not $1, a parameter).
    if (c === '$' && !isIdent(out.at(-1))) {
      const tag = /^\$([\p{L}_][\p{L}\p{N}_]*)?\$/u.exec(text.slice(i));
      if (tag) {
        const end = text.indexOf(tag[0], i + tag[0].length);
        out += '?';
        i = end === -1 ? n : end + tag[0].length;
        continue;
      }
    }
    // 42, 3.14, .5, 1e10, 0x1F, 1_000 outside identifiers (table1 and $1 stay); a number runs to the
    // next character that cannot be part of a word, so no digit of it is left behind.
    if (/[0-9.]/.test(c) && !isIdent(out.at(-1)) && /^\.?[0-9]/.test(text.slice(i, i + 2))) {
      const num = /^(?:[0-9][\w]*(?:\.[\w]*)?|\.[0-9][\w]*)(?:(?<=[eE])[+-][0-9]+)?/u.exec(text.slice(i));
      if (num) {
        out += '?';
        i += num[0].length;
        continue;
      }
    }
    out += c;
    i += 1;
  }
  return out;
}

export interface SqlSummary {
  /** SELECT, INSERT, UPDATE, DELETE, … (the statement's own keyword, or the one after a WITH). */
  operation: string;
  /** The first table it reads or writes (`product`, `graphile_worker.jobs`); absent when there is none. */
  collection?: string;
}

const OPERATIONS = new Set([
  'select',
  'insert',
  'update',
  'delete',
  'merge',
  'copy',
  'begin',
  'commit',
  'rollback',
  'savepoint',
  'release',
  'set',
  'show',
  'listen',
  'unlisten',
  'notify',
  'lock',
  'create',
  'alter',
  'drop',
  'truncate',
  'analyze',
  'vacuum',
  'refresh',
  'prepare',
  'execute',
  'deallocate',
  'discard',
  'values',
  'call',
  'do',
]);

/** The words of a sanitised statement at parenthesis depth 0, lower-cased, comments left out. */
function topLevelWords(text: string): string[] {
  const words: string[] = [];
  let depth = 0;
  const name = String.raw`(?:"(?:[^"]|"")*"|[A-Za-z_][\w$]*)`;
  const re = new RegExp(String.raw`--[^\n]*|\/\*[\s\S]*?\*\/|${name}(?:\.${name})*|[()]`, 'g');
  for (const m of text.matchAll(re)) {
    const w = m[0];
    if (w.startsWith('--') || w.startsWith('/*')) continue;
    if (w === '(') depth++;
    else if (w === ')') depth = Math.max(0, depth - 1);
    else if (depth === 0) words.push(w);
  }
  return words;
}

const unquote = (name: string) =>
  name
    .split('.')
    .map((part) => (part.startsWith('"') ? part.slice(1, -1).replace(/""/g, '"') : part))
    .join('.');

/** Operation and table of a (sanitised) statement, for `db.operation.name`, `db.collection.name` and the span name. */
export function summarizeSql(text: string): SqlSummary | null {
  const words = topLevelWords(text);
  let at = words.findIndex((w) => OPERATIONS.has(w.toLowerCase()) || w.toLowerCase() === 'with');
  if (at === -1) return null;
  if (words[at]?.toLowerCase() === 'with') {
    // WITH a AS (…), b AS (…) <main statement>: the CTE bodies are in parentheses, so the first
    // operation keyword at depth 0 after the WITH is the main one.
    const main = words.findIndex((w, k) => k > at && OPERATIONS.has(w.toLowerCase()));
    if (main === -1) return { operation: 'WITH' };
    at = main;
  }
  const operation = (words[at] as string).toUpperCase();
  const after = (keyword: string) => {
    const k = words.findIndex((w, j) => j > at && w.toLowerCase() === keyword);
    const name = k === -1 ? undefined : words[k + 1];
    return name && !OPERATIONS.has(name.toLowerCase()) ? unquote(name) : undefined;
  };
  let collection: string | undefined;
  if (operation === 'SELECT' || operation === 'DELETE') collection = after('from');
  else if (operation === 'INSERT') collection = after('into');
  else if (operation === 'UPDATE') {
    const name = words[at + 1];
    collection = name?.toLowerCase() === 'only' ? words[at + 2] : name;
    if (collection) collection = unquote(collection);
  } else if (operation === 'LOCK' || operation === 'TRUNCATE' || operation === 'COPY') {
    const name = words.slice(at + 1).find((w) => !['table', 'only'].includes(w.toLowerCase()));
    collection = name ? unquote(name) : undefined;
  }
  // A function called as a table (`select * from add_job(…)` has `add_job` then `(`) names the function.
  return collection ? { operation, collection } : { operation };
}
