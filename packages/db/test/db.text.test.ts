/**
 * The three text rules: storable (what PostgreSQL can hold), single line (names, searches, tokens),
 * multi line (descriptions, notes).
 */
import { multiLineText, singleLineText, storableText, unstorableText } from '@keelson/db';
import { describe, expect, it } from 'vitest';

const ok = ['Ada Lovelace', 'Zoë Ñúñez', '山田 太郎', 'O’Brien-Smith', '😀 👩‍👩‍👧', 'زهرا‌نژاد', ''];

describe('text rules', () => {
  it.each(ok)('all three accept %j', (text) => {
    for (const rule of [storableText, singleLineText, multiLineText]) expect(rule.pattern.test(text)).toBe(true);
    expect(unstorableText(text)).toBeNull();
  });

  it.each(['a\u0000b', '\ud800', 'x\udc00', '\ud83d'])('none accepts %j (PostgreSQL cannot store it)', (text) => {
    for (const rule of [storableText, singleLineText, multiLineText]) expect(rule.pattern.test(text)).toBe(false);
    expect(unstorableText(text)).not.toBeNull();
  });

  it.each([
    'line\nbreak',
    'tab\there',
    'cr\r',
    'bell\u0007',
    'esc\u001b[31m',
    'del\u007f',
    'c1\u0085',
    'sep\u2028',
    'rtl\u202eoverride',
    'isolate\u2066',
  ])('single line refuses %j', (text) => {
    expect(singleLineText.pattern.test(text)).toBe(false);
    expect(storableText.pattern.test(text)).toBe(true);
  });

  it('multi line takes tabs and line breaks, no other control character', () => {
    expect(multiLineText.pattern.test('Dear team,\r\n\tleave it at the door.\n')).toBe(true);
    for (const text of ['bell\u0007', 'esc\u001b', 'del\u007f', 'c1\u0085']) {
      expect(multiLineText.pattern.test(text)).toBe(false);
    }
  });
});
