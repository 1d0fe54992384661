/**
 * The walk behind the one text rule: finds every NUL and unpaired surrogate in an input, values and keys,
 * at any depth, naming its path; never recurses (a deep input cannot overflow the stack) and stops at
 * 20 issues.
 */
import { assertStorableText, InvalidTextError, unstorableTextIssues } from '@keelson/trpc';
import { TRPCError } from '@trpc/server';
import { describe, expect, it } from 'vitest';

describe('unstorableTextIssues', () => {
  it('passes ordinary input, emoji and other well-formed astral characters included', () => {
    expect(unstorableTextIssues({ name: 'Zoë 😀', tags: ['a', 'b'], n: 1, d: new Date(), x: null })).toEqual([]);
    expect(unstorableTextIssues(undefined)).toEqual([]);
  });

  it('names the path of each bad value and key, in the input’s order', () => {
    const issues = unstorableTextIssues({
      a: 'ok',
      b: 'x\u0000y',
      c: [{ d: '\ud800' }, 'fine', 'tail\udc00'],
      'bad\u0000key': 1,
    });
    expect(issues).toEqual([
      { path: ['b'], message: 'Must not contain NUL characters (U+0000)', code: 'invalid_format' },
      { path: ['c', 0, 'd'], message: 'Must not contain unpaired UTF-16 surrogates', code: 'invalid_format' },
      { path: ['c', 2], message: 'Must not contain unpaired UTF-16 surrogates', code: 'invalid_format' },
      { path: ['bad\u0000key'], message: 'Key: Must not contain NUL characters (U+0000)', code: 'invalid_key' },
    ]);
    expect(unstorableTextIssues('\u0000')).toEqual([expect.objectContaining({ path: [] })]);
  });

  it('walks the Maps and Sets superjson revives, keys included', () => {
    const issues = unstorableTextIssues({
      m: new Map([
        ['k\u0000', 'v'],
        ['k', '\ud800'],
      ]),
      s: new Set(['\u0000']),
    });
    expect(issues.map((i) => i.path)).toEqual([
      ['m', 'k\u0000'],
      ['m', 'k'],
      ['s', 0],
    ]);
  });

  it('walks a 100,000-deep input without recursion, and a shared or cyclic object once', () => {
    let deep: unknown = '\u0000';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const [issue] = unstorableTextIssues(deep);
    expect(issue?.path).toHaveLength(100_000);
    const cyclic: Record<string, unknown> = { s: '\u0000' };
    cyclic.self = cyclic;
    expect(unstorableTextIssues({ a: cyclic, b: cyclic })).toHaveLength(1);
  });

  it('stops at 20 issues', () => {
    expect(unstorableTextIssues(Array.from({ length: 10_000 }, () => '\u0000'))).toHaveLength(20);
  });

  it('throws BAD_REQUEST whose cause carries the issues, under a prefix', () => {
    let thrown: unknown;
    try {
      assertStorableText({ token: 'a\u0000' }, ['connectionParams']);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(TRPCError);
    expect(thrown).toMatchObject({ code: 'BAD_REQUEST', cause: expect.any(InvalidTextError) });
    expect(((thrown as TRPCError).cause as InvalidTextError).issues[0]?.path).toEqual(['connectionParams', 'token']);
    expect(() => assertStorableText({ token: 'fine' })).not.toThrow();
  });
});
