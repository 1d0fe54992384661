/** A real SMTP server on loopback that keeps what it receives, for tests of outgoing mail. */
import { SMTPServer } from 'smtp-server';

export interface CapturedMail {
  to: string[];
  raw: string;
  /** `raw` with quoted-printable soft line breaks and `=3D` undone: searchable for links. */
  text: string;
  /** The first https?:// link with a `token` parameter (in its fragment or query), decoded. */
  token: string | null;
}

export interface SmtpCapture extends AsyncDisposable {
  url: string;
  messages: CapturedMail[];
  /** Resolves with the first message to `to` (received now or later) that `match` accepts. */
  waitFor(to: string, match?: (m: CapturedMail) => boolean, timeoutMs?: number): Promise<CapturedMail>;
  close(): Promise<void>;
}

// Quoted-printable may wrap long lines with "=\n" and encode "=" as "=3D"; undo both.
const unwrap = (raw: string) => raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=');

function tokenOf(text: string): string | null {
  const match = text.match(/https?:\/\/\S+?[#?&]token=([\w%-]+)/);
  return match?.[1] ? decodeURIComponent(match[1]) : null;
}

export async function startSmtpCapture(): Promise<SmtpCapture> {
  const messages: CapturedMail[] = [];
  const listeners = new Set<() => void>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const text = unwrap(raw);
        messages.push({ to: session.envelope.rcptTo.map((r) => r.address), raw, text, token: tokenOf(text) });
        for (const l of listeners) l();
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.server.address();
  if (!address || typeof address !== 'object') throw new Error('SMTP server is not listening');
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return {
    url: `smtp://127.0.0.1:${address.port}`,
    messages,
    waitFor(to, match = () => true, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.find((m) => m.to.includes(to) && match(m));
          if (found) {
            done();
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no mail to ${to} within ${timeoutMs} ms (got ${messages.length} in all)`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
