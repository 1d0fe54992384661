/**
 * The one text rule for what arrives from clients (`storableText` in @keelson/db): no string anywhere
 * in a procedure's input, at any depth and object keys included, may hold a NUL or an unpaired
 * surrogate, which PostgreSQL cannot store and which would otherwise fail inside a query as a 500.
 */
import { unstorableText } from '@keelson/db';
import { TRPCError } from '@trpc/server';

/** Enough to say what is wrong; a megabyte of NULs does not need a megabyte of issues. */
const MAX_ISSUES = 20;

export interface TextIssue {
  path: (string | number)[];
  message: string;
  code: 'invalid_format' | 'invalid_key';
}

/** The cause of the BAD_REQUEST: zod-shaped issues, which `errorFormatter` sends as `data.issues`. */
export class InvalidTextError extends Error {
  override name = 'InvalidTextError';
  readonly issues: TextIssue[];
  constructor(issues: TextIssue[]) {
    super('Input holds text that cannot be stored');
    this.issues = issues;
  }
}

/**
 * A walked value and how it was reached: its key, and whether that key is a string the client chose
 * (an object's or a Map's, to be checked too). The path is rebuilt only for an issue, so a deep input
 * costs linear time.
 */
interface Node {
  value: unknown;
  key: string | number | null;
  clientKey: boolean;
  parent: Node | null;
}

const pathOf = (node: Node, base: readonly (string | number)[]): (string | number)[] => {
  const path: (string | number)[] = [];
  for (let n: Node | null = node; n && n.key !== null; n = n.parent) path.push(n.key);
  return [...base, ...path.reverse()];
};

/**
 * Every string of `value` that cannot be stored, walked without recursion (a deeply nested input
 * cannot overflow the stack): arrays, objects and their keys, and the Maps and Sets superjson revives.
 */
export function unstorableTextIssues(value: unknown, base: readonly (string | number)[] = []): TextIssue[] {
  const issues: TextIssue[] = [];
  const seen = new Set<object>();
  const stack: Node[] = [{ value, key: null, clientKey: false, parent: null }];
  while (stack.length && issues.length < MAX_ISSUES) {
    const node = stack.pop() as Node;
    const keyMessage = node.clientKey && typeof node.key === 'string' ? unstorableText(node.key) : null;
    if (keyMessage) issues.push({ path: pathOf(node, base), message: `Key: ${keyMessage}`, code: 'invalid_key' });
    const v = node.value;
    if (typeof v === 'string') {
      const message = unstorableText(v);
      if (message) issues.push({ path: pathOf(node, base), message, code: 'invalid_format' });
      continue;
    }
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    seen.add(v);
    const children: Node[] = [];
    if (Array.isArray(v) || v instanceof Set) {
      let i = 0;
      for (const item of v) children.push({ value: item, key: i++, clientKey: false, parent: node });
    } else if (v instanceof Map) {
      for (const [key, item] of v) {
        // A key that is not a string is input too (superjson allows any).
        if (typeof key !== 'string') children.push({ value: key, key: String(key), clientKey: false, parent: node });
        children.push({ value: item, key: String(key), clientKey: typeof key === 'string', parent: node });
      }
    } else {
      for (const [key, item] of Object.entries(v)) children.push({ value: item, key, clientKey: true, parent: node });
    }
    // Reversed onto the stack, so issues come out in the input's own order.
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i] as Node);
  }
  return issues.slice(0, MAX_ISSUES);
}

/** Throws BAD_REQUEST with field issues when `value` holds text that cannot be stored. */
export function assertStorableText(value: unknown, base: readonly (string | number)[] = []): void {
  const issues = unstorableTextIssues(value, base);
  if (issues.length) {
    throw new TRPCError({ code: 'BAD_REQUEST', message: 'Invalid input', cause: new InvalidTextError(issues) });
  }
}
