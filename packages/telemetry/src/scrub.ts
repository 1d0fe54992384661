/**
 * The last stop before a span leaves the process: whatever an instrumentation recorded, no value a user
 * typed or a secret we hold goes out. It runs first among the span processors, while the span can
 * still be changed (`onEnding`), so every exporter gets the scrubbed span.
 *
 * - SQL text (`db.query.text`, the older `db.statement`): literals replaced (see sql.ts), and the span
 *   named `{operation} {table}` with `db.operation.name` / `db.collection.name` (instrumentation-pg
 *   names it `pg.query:SELECT <db>`, or by the prepared statement's hash, which says nothing).
 * - `url.path` (Fastify's request span puts the whole URL there, GET inputs included), `http.target` and
 *   `url.full` lose their query string; `url.query` keeps its parameter names, every value REDACTED.
 * - A 5xx answer gets `error.type` (its status code) where the instrumentation left it out.
 * - Messages (span status, exception events, `error.message`): email addresses and long tokens masked,
 *   as PostgreSQL repeats an offending value in its error (`invalid input syntax for type uuid: "…"`).
 */

// The subpath, not the package: its index imports pino, which must load after the SDK hooks it.
import { redactText as scrubMessage } from '@keelson/runtime/redact';
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { sanitizeSql, summarizeSql } from './sql.ts';

const withoutQuery = (url: string) => {
  const at = url.indexOf('?');
  return at === -1 ? url : url.slice(0, at);
};

export class ScrubbingSpanProcessor implements SpanProcessor {
  onStart(_span: Span, _context: Context): void {}

  onEnding(span: Span): void {
    const attributes = (span as unknown as ReadableSpan).attributes;
    for (const key of ['db.query.text', 'db.statement'] as const) {
      const text = attributes[key];
      if (typeof text !== 'string') continue;
      const clean = sanitizeSql(text);
      span.setAttribute(key, clean);
      const summary = summarizeSql(clean);
      if (summary) {
        span.setAttribute('db.operation.name', summary.operation);
        if (summary.collection) span.setAttribute('db.collection.name', summary.collection);
        const name = summary.collection ? `${summary.operation} ${summary.collection}` : summary.operation;
        span.setAttribute('db.query.summary', name);
        span.updateName(name);
      }
    }
    for (const key of ['url.path', 'http.target', 'url.full', 'http.url'] as const) {
      const value = attributes[key];
      if (typeof value === 'string' && value.includes('?')) span.setAttribute(key, withoutQuery(value));
    }
    // Every value of the query string, not only the names instrumentation-http knows (`input`, `token`):
    // an OpenID Connect callback's `code` and `state` are secrets too. The names stay.
    const query = attributes['url.query'];
    if (typeof query === 'string' && query) {
      span.setAttribute('url.query', query.replace(/=[^&]*/g, '=REDACTED'));
    }
    // A server answer of 5xx is the operation failing (4xx is the client's): `error.type` names it, as
    // the HTTP conventions ask, on the HTTP and Fastify request spans alike.
    const status = attributes['http.response.status_code'];
    if (typeof status === 'number' && status >= 500 && attributes['error.type'] === undefined) {
      span.setAttribute('error.type', String(status));
    }
    const errorMessage = attributes['error.message'];
    if (typeof errorMessage === 'string') span.setAttribute('error.message', scrubMessage(errorMessage));
    // Events and status are not attributes: scrubbed in place (the span is still ours until it ends).
    const readable = span as unknown as {
      events: { attributes?: Record<string, unknown> }[];
      status: { code: number; message?: string };
    };
    for (const event of readable.events) {
      const attrs = event.attributes;
      if (!attrs) continue;
      if (typeof attrs['exception.message'] === 'string') {
        attrs['exception.message'] = scrubMessage(attrs['exception.message']);
      }
      const stack = attrs['exception.stacktrace'];
      if (typeof stack === 'string') {
        // The first line repeats the message; the frames below it are code, whose long names stay.
        const frames = stack.search(/\n\s+at /);
        attrs['exception.stacktrace'] =
          frames === -1 ? scrubMessage(stack) : scrubMessage(stack.slice(0, frames)) + stack.slice(frames);
      }
    }
    if (readable.status.message) readable.status.message = scrubMessage(readable.status.message);
  }

  onEnd(_span: ReadableSpan): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
