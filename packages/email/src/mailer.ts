/**
 * Outgoing mail through nodemailer: SMTP when SMTP_URL is set; otherwise each message is written as an
 * .eml file under MAIL_DIR (open it with any mail client), so development needs no mail server.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import nodemailer from 'nodemailer';

export interface MailConfig {
  smtpUrl: string | undefined;
  from: string;
  /** Folder for .eml files when there is no SMTP server. */
  dir: string;
}

export interface Message {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** A fixed Message-ID (`<id@domain>`), so a resent copy can be recognised; default: a fresh one. */
  messageId?: string;
}

export interface SentMessage {
  messageId: string;
  /** The .eml file, when written to disk instead of sent. */
  file?: string;
}

export interface Mailer {
  send(message: Message): Promise<SentMessage>;
  close(): void;
}

export function createMailer(config: MailConfig): Mailer {
  return traced(untracedMailer(config), config.smtpUrl ? 'smtp' : 'file');
}

/**
 * SMTP is a plain socket, which no instrumentation sees: without this span a job's trace would show a
 * gap where the mail server was slow. The recipient stays out of it (personal data in a trace store).
 */
function traced(mailer: Mailer, transport: 'smtp' | 'file'): Mailer {
  const tracer = trace.getTracer('@keelson/email');
  return {
    send: (message) =>
      tracer.startActiveSpan(
        'email send',
        { kind: SpanKind.CLIENT, attributes: { 'email.transport': transport } },
        async (span) => {
          try {
            return await mailer.send(message);
          } catch (err) {
            span.recordException(err as Error);
            span.setStatus({ code: SpanStatusCode.ERROR });
            throw err;
          } finally {
            span.end();
          }
        },
      ),
    close: () => mailer.close(),
  };
}

function untracedMailer(config: MailConfig): Mailer {
  if (config.smtpUrl) {
    // Bounded well inside the delivery lease (see deliveries.ts): a send that outlived its claim could be
    // sent again by a duplicate job. Socket inactivity is per exchange step.
    const transport = nodemailer.createTransport({
      url: config.smtpUrl,
      dnsTimeout: 10_000,
      connectionTimeout: 20_000,
      greetingTimeout: 20_000,
      socketTimeout: 30_000,
    });
    return {
      async send(message) {
        const info = await transport.sendMail({ from: config.from, ...message });
        return { messageId: info.messageId };
      },
      close: () => transport.close(),
    };
  }
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    async send(message) {
      const info = await transport.sendMail({ from: config.from, ...message });
      await mkdir(config.dir, { recursive: true });
      const file = path.resolve(config.dir, `${Date.now()}-${info.messageId.replace(/[^\w.@-]/g, '')}.eml`);
      await writeFile(file, info.message as Buffer);
      return { messageId: info.messageId, file };
    },
    close: () => transport.close(),
  };
}
