/**
 * Hostile input over real HTTP against the real app: every case answers a typed 4xx (appCode, and the
 * field's path for invalid input), changes nothing in the database, and no response of the whole file
 * is a 5xx.
 *
 * The seven cases an independent test found answering 500 (NUL in auth.signUp and
 * account.updateProfile names and in orders.checkout's paymentToken, a lone surrogate in an
 * analytics.track prop, TRACE /trpc/cart.get, a malformed session cookie), more of the same kind, and a
 * sweep: every procedure of the router, a NUL and a lone surrogate in each string field its input
 * schema has (record keys included), over GET, POST or SSE as the procedure's type wants.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { seed } from '@keelson/db';
import { createUsers, sql, startTestApi, type TestApi, type TestUser } from '@keelson/testing';
import { appRouter } from '@keelson/trpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const NUL = 'x\u0000y';
const LONE_SURROGATE = 'x\ud800y';

describe('hostile input over HTTP', () => {
  let api: TestApi;
  let port: number;
  let customer: TestUser;
  let admin: TestUser;
  const answers: { what: string; status: number; body: string }[] = [];

  beforeAll(async () => {
    api = await startTestApi();
    port = Number(new URL(api.baseUrl).port);
    await seed(api.orm.em.fork(), {});
    customer = (await createUsers(api.db.url, 1))[0]!;
    admin = (await createUsers(api.db.url, 1, { role: 'admin' }))[0]!;
    // A cart, so that a checkout with a good payment token would place an order.
    await sql(
      api.db.url,
      `insert into cart_item (id, user_id, product_id, quantity, price_cents_seen, added_at, updated_at)
       select gen_random_uuid(), $1, id, 1, price_cents, now(), now() from product order by id limit 1`,
      [customer.id],
    );
  });

  afterAll(async () => {
    await api?.close();
  });

  /** One raw HTTP request: any method, any header (Host too), any body. */
  function send(opts: { method: string; path: string; headers?: Record<string, string>; body?: string }) {
    return new Promise<Answer>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method: opts.method, path: opts.path, headers: opts.headers ?? {}, agent: false },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            body += chunk;
          });
          res.on('end', () => {
            answers.push({ what: `${opts.method} ${opts.path.slice(0, 80)}`, status: res.statusCode ?? 0, body });
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
          });
        },
      );
      req.on('error', reject);
      if (opts.body !== undefined) req.write(opts.body);
      req.end();
    });
  }

  /** Bytes on a socket, the answer as text: for what no HTTP client will send. */
  function rawRequest(bytes: string): Promise<string> {
    return new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
      let answer = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        answer += chunk;
      });
      socket.on('error', () => {});
      socket.on('close', () => {
        answers.push({ what: bytes.split('\r\n')[0] ?? '', status: Number(answer.slice(9, 12)), body: answer });
        resolve(answer);
      });
      socket.setTimeout(10_000, () => socket.destroy());
    });
  }

  const bearer = (user: TestUser) => ({ authorization: `Bearer ${user.token}` });

  /** A tRPC call as a client sends it (superjson's `{ json }`), over GET for queries, POST for mutations. */
  function trpc(opts: { type: 'query' | 'mutation'; path: string; input?: unknown; headers?: Record<string, string> }) {
    const encoded = JSON.stringify({ json: opts.input ?? null });
    return opts.type === 'query'
      ? send({ method: 'GET', path: `/trpc/${opts.path}?input=${encodeURIComponent(encoded)}`, headers: opts.headers })
      : send({
          method: 'POST',
          path: `/trpc/${opts.path}`,
          headers: { 'content-type': 'application/json', ...opts.headers },
          body: encoded,
        });
  }

  /** The first event after `connected` of a subscription over SSE (an error for refused input). */
  async function sseFirstEvent(opts: { path: string; input: unknown; headers?: Record<string, string> }) {
    const url = `${api.baseUrl}/trpc/${opts.path}?input=${encodeURIComponent(JSON.stringify({ json: opts.input }))}`;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 10_000);
    try {
      const res = await fetch(url, { headers: opts.headers ?? {}, signal: abort.signal });
      answers.push({ what: `SSE ${opts.path}`, status: res.status, body: '' });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let text = '';
      for (;;) {
        const match = /event: (?!connected)(\S+)\ndata: (.*)\n/.exec(text);
        if (match) return { status: res.status, event: match[1], data: JSON.parse(match[2] ?? 'null') };
        const { value, done } = await reader.read();
        if (done) return { status: res.status, event: null, data: null };
        text += decoder.decode(value, { stream: true });
      }
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
  }

  const errorOf = (answer: Answer) =>
    (JSON.parse(answer.body) as { error: { json: { message: string; data: Record<string, unknown> } } }).error.json;

  /**
   * Every row of every table (and graphile-worker's jobs), as one hash per table: whatever a refused
   * request might have written shows up here.
   */
  async function fingerprint(): Promise<Record<string, string>> {
    const tables = await sql<{ name: string }>(
      api.db.url,
      `select format('%I.%I', table_schema, table_name) as name from information_schema.tables
       where table_type = 'BASE TABLE' and (table_schema = 'public' or (table_schema, table_name) = ('graphile_worker', '_private_jobs'))
       order by 1`,
    );
    // A session's use is bookkeeping, not a change: a refused call may still have authenticated.
    const columns = (table: string) => (table === 'public.auth_session' ? '(x.id, x.token_hash, x.user_id)' : 'x');
    const rows = await sql<{ name: string; hash: string }>(
      api.db.url,
      tables
        .map(
          (t) =>
            `select '${t.name}' as name, md5(coalesce(string_agg(${columns(t.name)}::text, '|' order by ${columns(t.name)}::text), '')) as hash from ${t.name} x`,
        )
        .join(' union all '),
    );
    expect(rows.length).toBeGreaterThan(15);
    return Object.fromEntries(rows.map((r) => [r.name, r.hash]));
  }

  async function changesNothing<T>(act: () => Promise<T>): Promise<T> {
    const before = await fingerprint();
    const result = await act();
    expect(await fingerprint()).toEqual(before);
    return result;
  }

  /** A 400 naming the field, as zod's own failures do. */
  function expectInvalid(answer: Answer, path: (string | number)[]) {
    expect(answer.status, answer.body).toBe(400);
    const error = errorOf(answer);
    expect(error.message).toBe('Invalid input');
    expect(error.data).toMatchObject({
      code: 'BAD_REQUEST',
      httpStatus: 400,
      appCode: 'VALIDATION_FAILED',
      requestId: expect.any(String),
    });
    expect(error.data.issues).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
  }

  describe('the seven cases found answering 500', () => {
    it('a NUL in auth.signUp name', async () => {
      const answer = await changesNothing(() =>
        trpc({
          type: 'mutation',
          path: 'auth.signUp',
          input: { email: 'nul@shop.test', password: 'a long enough passphrase', name: NUL },
        }),
      );
      expectInvalid(answer, ['name']);
      expect(await sql(api.db.url, `select 1 from app_user where email = 'nul@shop.test'`)).toEqual([]);
    });

    it('a NUL in account.updateProfile name', async () => {
      const answer = await changesNothing(() =>
        trpc({ type: 'mutation', path: 'account.updateProfile', input: { name: NUL }, headers: bearer(customer) }),
      );
      expectInvalid(answer, ['name']);
    });

    it('a NUL in orders.checkout paymentToken', async () => {
      const answer = await changesNothing(() =>
        trpc({
          type: 'mutation',
          path: 'orders.checkout',
          input: { idempotencyKey: crypto.randomUUID(), paymentToken: `tok_visa${NUL}` },
          headers: bearer(customer),
        }),
      );
      expectInvalid(answer, ['paymentToken']);
    });

    it('a lone surrogate in an analytics.track prop', async () => {
      // JSON.stringify writes the lone surrogate as `\ud800`; JSON.parse on the server revives it.
      const answer = await changesNothing(() =>
        trpc({
          type: 'mutation',
          path: 'analytics.track',
          input: { events: [{ name: 'search', props: { q: '\ud800' } }] },
        }),
      );
      expectInvalid(answer, ['events', 0, 'props', 'q']);
    });

    it('TRACE /trpc/cart.get', async () => {
      const answer = await changesNothing(() => send({ method: 'TRACE', path: '/trpc/cart.get' }));
      expect(answer.status).toBe(405);
      expect(answer.headers.allow).toBe('GET, HEAD, OPTIONS');
      expect(JSON.parse(answer.body)).toMatchObject({ appCode: 'METHOD_NOT_ALLOWED', requestId: expect.any(String) });
    });

    it('a malformed session cookie on a procedure: no session', async () => {
      const cookie = { cookie: 'keelson_session=%%%' };
      await changesNothing(async () => {
        // Anonymous, not an error: a public query answers, an authenticated one says sign in.
        const me = await trpc({ type: 'query', path: 'auth.me', headers: cookie });
        expect(me.status).toBe(200);
        expect(JSON.parse(me.body)).toEqual({ result: { data: { json: null } } });
        const cart = await trpc({ type: 'query', path: 'cart.get', headers: cookie });
        expect(cart.status).toBe(401);
        expect(errorOf(cart).data).toMatchObject({ code: 'UNAUTHORIZED', appCode: 'UNAUTHENTICATED' });
      });
      // A stranger's malformed cookie beside a good session cookie does not hide it (outside the check
      // above: a valid session may be renewed, which is a write).
      const both = await trpc({
        type: 'query',
        path: 'auth.me',
        headers: { cookie: `other=%E0%A4%A; keelson_session=${customer.token}` },
      });
      expect(JSON.parse(both.body).result.data.json).toMatchObject({ id: customer.id });
    });

    it('a malformed session cookie on the report download and a malformed bearer header', async () => {
      await changesNothing(async () => {
        const report = await send({
          method: 'GET',
          path: `/reports/${crypto.randomUUID()}.csv`,
          headers: { cookie: 'keelson_session=%%%' },
        });
        expect(report.status).toBe(401);
        expect(JSON.parse(report.body)).toMatchObject({ appCode: 'UNAUTHENTICATED' });
        for (const authorization of [
          'Bearer %%%',
          'Bearer',
          'Bearer ',
          'Basic Zm9vOmJhcg==',
          `Bearer ${'x'.repeat(300)}`,
        ]) {
          const cart = await trpc({ type: 'query', path: 'cart.get', headers: { authorization } });
          expect(cart.status, authorization).toBe(401);
          expect(errorOf(cart).data).toMatchObject({ appCode: 'UNAUTHENTICATED' });
        }
      });
    });
  });

  describe('more of the same kind', () => {
    const signUp = (name: string) => ({ email: 'named@shop.test', password: 'a long enough passphrase', name });
    it.each([
      { label: 'a lone surrogate in a name', path: 'auth.signUp', input: signUp(LONE_SURROGATE), field: ['name'] },
      { label: 'a control character in a name', path: 'auth.signUp', input: signUp('Ada\u0007'), field: ['name'] },
      { label: 'a line break in a name', path: 'auth.signUp', input: signUp('Ada\nLovelace'), field: ['name'] },
      { label: 'a bidi override in a name', path: 'auth.signUp', input: signUp('Ada\u202eecalevol'), field: ['name'] },
      {
        label: 'a NUL in a password',
        path: 'auth.logIn',
        input: { email: 'a@shop.test', password: NUL },
        field: ['password'],
      },
      {
        label: 'a NUL in an email',
        path: 'auth.requestPasswordReset',
        input: { email: `a${NUL}@shop.test` },
        field: ['email'],
      },
      {
        label: 'a NUL in an object key',
        path: 'analytics.track',
        input: { events: [{ name: 'search', props: { [`k${NUL}`]: 1 } }] },
        field: ['events', 0, 'props', `k${NUL}`],
      },
      { label: 'a NUL in a key the schema does not know', path: 'auth.logOut', input: { [NUL]: true }, field: [NUL] },
      {
        label: 'a NUL deep in an unknown field',
        path: 'auth.logOut',
        input: { a: [[{ b: [NUL] }]] },
        field: ['a', 0, 0, 'b', 0],
      },
    ])('$label: 400 naming the field ($path)', async ({ path, input, field }) => {
      const answer = await changesNothing(() => trpc({ type: 'mutation', path, input }));
      expectInvalid(answer, field);
    });

    it('a NUL in a query string (GET)', async () => {
      const answer = await trpc({ type: 'query', path: 'catalog.list', input: { q: `oak${NUL}` } });
      expectInvalid(answer, ['q']);
    });

    it('a control character in an admin note, but line breaks are welcome in it', async () => {
      const [order] = await sql<{ id: string }>(api.db.url, 'select id from store_order limit 1');
      // The seed places no orders: a missing order still fails validation first.
      const id = order?.id ?? crypto.randomUUID();
      const answer = await changesNothing(() =>
        trpc({
          type: 'mutation',
          path: 'orders.markShipped',
          input: { id, note: 'bell\u0007' },
          headers: bearer(admin),
        }),
      );
      expectInvalid(answer, ['note']);
      const fine = await trpc({
        type: 'mutation',
        path: 'orders.markShipped',
        input: { id, note: 'Left at\nthe door' },
        headers: bearer(admin),
      });
      expect(fine.status).not.toBe(400);
    });

    it('a 400,000-deep input is refused as input, without overflowing a stack', async () => {
      const body = `{"json":{"events":${'['.repeat(400_000)}${']'.repeat(400_000)}}}`;
      const answer = await changesNothing(() =>
        send({ method: 'POST', path: '/trpc/analytics.track', headers: { 'content-type': 'application/json' }, body }),
      );
      expect(answer.status).toBe(400);
      expect(errorOf(answer).data).toMatchObject({ appCode: 'VALIDATION_FAILED' });
    });

    it('a batch with one bad call: that call is refused, the other answers', async () => {
      const input = encodeURIComponent(JSON.stringify({ 0: { json: { q: NUL } }, 1: { json: { limit: 1 } } }));
      const answer = await send({ method: 'GET', path: `/trpc/catalog.list,catalog.list?batch=1&input=${input}` });
      expect(answer.status).toBe(207);
      const [bad, good] = JSON.parse(answer.body) as [
        { error: { json: { data: { httpStatus: number } } } },
        { result: unknown },
      ];
      expect(bad.error.json.data.httpStatus).toBe(400);
      expect(good.result).toBeDefined();
    });

    it.each([
      ['PUT', '/trpc/orders.checkout', 'POST, OPTIONS'],
      ['DELETE', '/trpc/cart.get', 'GET, HEAD, OPTIONS'],
      ['PROPFIND', '/trpc/cart.get', 'GET, HEAD, OPTIONS'],
      ['TRACE', '/trpc/no.such', 'GET, HEAD, POST, OPTIONS'],
      ['TRACE', '/trpc', 'GET, HEAD, OPTIONS'],
      ['HEAD', '/trpc/auth.logIn', 'POST, OPTIONS'],
      ['TRACE', '/healthz', 'GET, HEAD, OPTIONS'],
      ['POST', '/readyz', 'GET, HEAD, OPTIONS'],
      ['DELETE', `/reports/${crypto.randomUUID()}.csv`, 'GET, HEAD, OPTIONS'],
    ])('%s %s answers 405 with Allow: %s', async (method, path, allow) => {
      const answer = await changesNothing(() => send({ method, path }));
      expect(answer.status).toBe(405);
      expect(answer.headers.allow).toBe(allow);
      if (method !== 'HEAD') expect(JSON.parse(answer.body)).toMatchObject({ appCode: 'METHOD_NOT_ALLOWED' });
    });

    it('a GET to a mutation: tRPC’s own 405, typed, with its Allow; OPTIONS answers 204', async () => {
      const answer = await trpc({ type: 'query', path: 'auth.logIn', input: {} });
      expect(answer.status).toBe(405);
      expect(answer.headers.allow).toBe('POST, OPTIONS');
      expect(errorOf(answer).data).toMatchObject({ code: 'METHOD_NOT_SUPPORTED', appCode: 'METHOD_NOT_ALLOWED' });
      const options = await send({ method: 'OPTIONS', path: '/trpc/cart.get' });
      expect(options.status).toBe(204);
      expect(options.headers.allow).toBe('GET, HEAD, OPTIONS');
    });

    it.each(['a b', '[', '%%', 'shop.test/evil', ''])('a Host header %j answers 400', async (host) => {
      // Written by hand: node's client replaces an empty Host with its own.
      const head = await changesNothing(() =>
        rawRequest(`GET /trpc/auth.me HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
      );
      expect(head).toMatch(/^HTTP\/1\.1 400 /);
      expect(head).toContain('"appCode":"VALIDATION_FAILED"');
    });
  });

  describe('sweep: every procedure, a NUL and a lone surrogate in each string field', () => {
    /** Where a procedure's input holds strings (and records, whose keys are strings too). */
    interface Leaves {
      sample: unknown;
      strings: (string | number)[][];
      records: (string | number)[][];
    }

    type Def = { type: string } & Record<string, unknown>;
    const defOf = (schema: unknown): Def => (schema as { _zod: { def: Def } })._zod.def;

    /** A value of the schema's shape (not necessarily valid: the text rule runs first) and its string paths. */
    function leaves(schema: unknown, path: (string | number)[] = [], depth = 0): Leaves {
      const def = defOf(schema);
      const none = (sample: unknown): Leaves => ({ sample, strings: [], records: [] });
      if (depth > 8) return none(null);
      switch (def.type) {
        case 'string':
          return { sample: 'text', strings: [path], records: [] };
        case 'optional':
        case 'nullable':
        case 'default':
        case 'prefault':
        case 'nonoptional':
        case 'readonly':
        case 'catch':
          return leaves(def.innerType, path, depth + 1);
        case 'pipe':
          return leaves(def.in, path, depth + 1);
        case 'lazy':
          return leaves((def.getter as () => unknown)(), path, depth + 1);
        case 'union': {
          // Every option's strings: each is a way in.
          const options = (def.options as unknown[]).map((o) => leaves(o, path, depth + 1));
          const objects = options.filter((o) => o.sample && typeof o.sample === 'object');
          return objects[0] ?? options[0] ?? none(null);
        }
        case 'object': {
          const out: Leaves = { sample: {}, strings: [], records: [] };
          for (const [key, field] of Object.entries(def.shape as Record<string, unknown>)) {
            const inner = leaves(field, [...path, key], depth + 1);
            (out.sample as Record<string, unknown>)[key] = inner.sample;
            out.strings.push(...inner.strings);
            out.records.push(...inner.records);
          }
          return out;
        }
        case 'array': {
          const inner = leaves(def.element, [...path, 0], depth + 1);
          return { ...inner, sample: [inner.sample] };
        }
        case 'tuple': {
          const items = (def.items as unknown[]).map((item, i) => leaves(item, [...path, i], depth + 1));
          return {
            sample: items.map((i) => i.sample),
            strings: items.flatMap((i) => i.strings),
            records: items.flatMap((i) => i.records),
          };
        }
        case 'record': {
          const inner = leaves(def.valueType, [...path, 'key'], depth + 1);
          return { sample: { key: inner.sample }, strings: inner.strings, records: [path, ...inner.records] };
        }
        case 'enum':
          return none(Object.values(def.entries as Record<string, unknown>)[0]);
        case 'literal':
          return none((def.values as unknown[])[0]);
        case 'number':
        case 'int':
          return none(1);
        case 'boolean':
          return none(false);
        default:
          return none(null);
      }
    }

    const set = (value: unknown, path: (string | number)[], leaf: unknown): unknown => {
      if (!path.length) return leaf;
      const [head, ...rest] = path as [string | number, ...(string | number)[]];
      const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<string | number, unknown>;
      copy[head] = set(copy[head], rest, leaf);
      return copy;
    };
    /** `value` with the key `key` of the object at `path` renamed to `to`. */
    const renameKey = (value: unknown, path: (string | number)[], to: string): unknown => {
      if (!path.length) {
        const { key: moved, ...rest } = value as Record<string, unknown>;
        return { ...rest, [to]: moved };
      }
      const [head, ...tail] = path as [string | number, ...(string | number)[]];
      const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<string | number, unknown>;
      copy[head] = renameKey(copy[head], tail, to);
      return copy;
    };

    const procedures = Object.entries(
      // Flat at run time ('auth.signUp'), whatever the nested type says.
      appRouter._def.procedures as unknown as Record<
        string,
        { _def: { type: 'query' | 'mutation' | 'subscription'; inputs: unknown[] } }
      >,
    ).sort(([a], [b]) => a.localeCompare(b));

    it('covers every procedure of the router', () => {
      expect(procedures.length).toBeGreaterThan(50);
    });

    it('refuses each with 400 naming the field, as anyone, and changes nothing', { timeout: 180_000 }, async () => {
      const cases: {
        path: string;
        type: 'query' | 'mutation' | 'subscription';
        input: unknown;
        field: (string | number)[];
      }[] = [];
      for (const [path, procedure] of procedures) {
        const { type, inputs } = procedure._def;
        const found = inputs.map((schema) => leaves(schema));
        const sample = Object.assign(
          {},
          ...found.map((f) => (f.sample && typeof f.sample === 'object' ? f.sample : {})),
        );
        for (const bad of [NUL, LONE_SURROGATE]) {
          for (const field of found.flatMap((f) => f.strings))
            cases.push({ path, type, input: set(sample, field, bad), field });
          for (const record of found.flatMap((f) => f.records)) {
            cases.push({ path, type, input: renameKey(sample, record, bad), field: [...record, bad] });
          }
          // Procedures without input, or with no string in it, are not exempt.
          cases.push({ path, type, input: { ...sample, [bad]: 1 }, field: [bad] });
        }
      }
      expect(cases.length).toBeGreaterThan(250);
      const misses: string[] = [];
      await changesNothing(async () => {
        for (const c of cases) {
          // As admin: every procedure is reachable; the rule applies before any authorization anyway.
          const headers = bearer(admin);
          if (c.type === 'subscription') {
            const first = await sseFirstEvent({ path: c.path, input: c.input, headers });
            const data = first.data as { json?: { data?: { httpStatus?: number; issues?: { path: unknown[] }[] } } };
            const hit = data?.json?.data?.issues?.some((i) => JSON.stringify(i.path) === JSON.stringify(c.field));
            if (first.event !== 'serialized-error' || data?.json?.data?.httpStatus !== 400 || !hit) {
              misses.push(`${c.path} ${JSON.stringify(c.field)}: ${first.event} ${JSON.stringify(first.data)}`);
            }
            continue;
          }
          const answer = await trpc({ type: c.type, path: c.path, input: c.input, headers });
          const issues = answer.status === 400 ? (errorOf(answer).data.issues as { path: unknown[] }[] | null) : null;
          const hit = issues?.some((i) => JSON.stringify(i.path) === JSON.stringify(c.field));
          if (!hit) misses.push(`${c.path} ${JSON.stringify(c.field)}: ${answer.status} ${answer.body.slice(0, 200)}`);
        }
      });
      console.info(`hostile sweep: ${procedures.length} procedures, ${cases.length} requests, ${misses.length} misses`);
      expect(misses).toEqual([]);
    });
  });

  it('answered no request of this file with a 5xx, and leaked no internals', () => {
    expect(answers.length).toBeGreaterThan(300);
    expect(answers.filter((a) => a.status >= 500)).toEqual([]);
    const leaks = answers.filter((a) => /\bat .+:\d+:\d+|node_modules|\bselect\b.+\bfrom\b/i.test(a.body));
    expect(leaks).toEqual([]);
  });
});
