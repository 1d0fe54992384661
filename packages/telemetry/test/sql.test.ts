import { redactText as scrubMessage } from '@keelson/runtime';
import { describe, expect, it } from 'vitest';
import { sanitizeSql, summarizeSql } from '../src/sql.ts';

describe('sanitizeSql', () => {
  it('replaces every literal, drops comments, and keeps identifiers, parameters and casts', () => {
    expect(
      sanitizeSql(
        `select "u0".* from "app_user" as "u0" where "u0"."email" = 'ada@example.com' and "u0"."age" > 42 limit 1`,
      ),
    ).toBe(`select "u0".* from "app_user" as "u0" where "u0"."email" = ? and "u0"."age" > ? limit ?`);
    expect(sanitizeSql(`update t set a = $1, b = 'it''s', c = 3.5e2 where id = $2::uuid`)).toBe(
      `update t set a = $1, b = ?, c = ? where id = $2::uuid`,
    );
    expect(
      sanitizeSql(`insert into t (h) values (E'\\\\x41\\'s'), (X'1F'), ($$a 'dollar' body$$), ($tag$x$tag$)`),
    ).toBe(`insert into t (h) values (?), (?), (?), (?)`);
    // Comments go: they may quote anything.
    expect(sanitizeSql(`select table1.col2 from schema2.table1 -- by 'ada@example.com'\n/* 7 */ where x = .5`)).toBe(
      `select table1.col2 from schema2.table1 \n where x = ?`,
    );
    expect(sanitizeSql(`select $é$secret$é$, 0x1F, 1_000_000, 1.5e-3, 123abc from t`)).toBe(
      `select ?, ?, ?, ?, ? from t`,
    );
    expect(sanitizeSql(`select "weird""name" from t where s like'%ada%'`)).toBe(
      `select "weird""name" from t where s like?`,
    );
  });

  it('leaves nothing of an argon2 hash, a token or an email inlined the way MikroORM inlines them', () => {
    const secret = `$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo`;
    const text = `insert into "app_user" ("email", "password_hash", "token") values ('ada@example.com', '${secret}', 'tok_0123456789abcdef0123')`;
    const clean = sanitizeSql(text);
    expect(clean).toBe(`insert into "app_user" ("email", "password_hash", "token") values (?, ?, ?)`);
  });
});

describe('summarizeSql', () => {
  it('names the operation and the first table, through CTEs and quoting', () => {
    expect(summarizeSql(`select "p0".* from "product" as "p0" where "p0"."slug" = ?`)).toEqual({
      operation: 'SELECT',
      collection: 'product',
    });
    expect(summarizeSql(`insert into "graphile_worker"."_private_jobs" (a) values (?)`)).toEqual({
      operation: 'INSERT',
      collection: 'graphile_worker._private_jobs',
    });
    expect(summarizeSql(`update only "cart" set a = ?`)).toEqual({ operation: 'UPDATE', collection: 'cart' });
    expect(summarizeSql(`delete from session where id = $1`)).toEqual({ operation: 'DELETE', collection: 'session' });
    expect(
      summarizeSql(`with locked as (select id from cart for update) update cart_line set q = ? from locked`),
    ).toEqual({ operation: 'UPDATE', collection: 'cart_line' });
    expect(summarizeSql(`select (select 1 from inner_t) as x from outer_t`)).toEqual({
      operation: 'SELECT',
      collection: 'outer_t',
    });
    expect(summarizeSql(`select graphile_worker.add_job(?, ?)`)).toEqual({ operation: 'SELECT' });
    expect(summarizeSql(`begin`)).toEqual({ operation: 'BEGIN' });
    expect(summarizeSql(`  `)).toBeNull();
  });
});

describe('scrubMessage', () => {
  it('masks emails and long tokens in error messages, and keeps the rest', () => {
    expect(scrubMessage('invalid input syntax for type uuid: "ada@example.com"')).toBe(
      'invalid input syntax for type uuid: "?"',
    );
    expect(scrubMessage('no user ada@example.com')).toBe('no user [email]');
    expect(scrubMessage('token tok_0123456789abcdef0123456789 rejected')).toBe('token [redacted] rejected');
    expect(scrubMessage('duplicate key value violates unique constraint "app_user_email_unique"')).toBe(
      'duplicate key value violates unique constraint "app_user_email_unique"',
    );
  });
});

describe('redactText (log and error messages)', () => {
  it('masks what drivers, mailers and ORMs repeat of the values they refused', () => {
    expect(scrubMessage('invalid input syntax for type integer: "Ada Lovelace"')).toBe(
      'invalid input syntax for type integer: "?"',
    );
    expect(scrubMessage('Key (email)=(ada@example.com) already exists.')).toBe('Key (email)=(?) already exists.');
    expect(scrubMessage('Failing row contains (0191, Ada, $argon2id$v=19$m=1$abc).')).toBe('Failing row contains (?).');
    expect(scrubMessage("User not found ({ name: 'Ada' })")).toBe("User not found ({ name: '?' })");
    expect(scrubMessage("Can't send mail - all recipients were rejected: 550 <ada@example.com>")).toBe(
      "Can't send mail - all recipients were rejected: 550 <[email]>",
    );
  });

  it('keeps task names, ids and ordinary words', () => {
    const names = "Worker connected and looking for jobs... (task names: 'catalog__refresh_view_count', 'b')";
    expect(scrubMessage(names)).toBe(names);
    const line = `Completed task 42 (catalog__refresh_view_count, 3.1ms) for 0191e0c4-7e1a-7c3b-9d2e-2f1a3b4c5d6e`;
    expect(scrubMessage(line)).toBe(line);
    expect(scrubMessage("Failed task 7 (email__send_receipt) with error 'Invalid payload'")).toBe(
      "Failed task 7 (email__send_receipt) with error 'Invalid payload'",
    );
  });
});
