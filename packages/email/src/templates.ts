/** The transactional emails. Each has a text and an HTML part; links are absolute (PUBLIC_URL). */
import type { Message } from './mailer.ts';

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

function layout(opts: {
  to: string;
  subject: string;
  greeting: string;
  lines: string[];
  link: string;
  action: string;
}): Message {
  const text = [opts.greeting, '', ...opts.lines, '', `${opts.action}: ${opts.link}`, '', '— Keelson'].join('\n');
  const html = `<!doctype html><html><body style="font-family:sans-serif">
<p>${escapeHtml(opts.greeting)}</p>
${opts.lines.map((l) => `<p>${escapeHtml(l)}</p>`).join('\n')}
<p><a href="${escapeHtml(opts.link)}">${escapeHtml(opts.action)}</a></p>
<p>— Keelson</p>
</body></html>`;
  return { to: opts.to, subject: opts.subject, text, html };
}

export function verifyEmailMessage(opts: { to: string; name: string; link: string }): Message {
  return layout({
    to: opts.to,
    subject: 'Confirm your email address',
    greeting: `Hello ${opts.name},`,
    lines: ['Please confirm that this is your email address. The link works once, for 48 hours.'],
    link: opts.link,
    action: 'Confirm my address',
  });
}

export function passwordResetMessage(opts: { to: string; name: string; link: string }): Message {
  return layout({
    to: opts.to,
    subject: 'Reset your password',
    greeting: `Hello ${opts.name},`,
    lines: [
      'Someone asked to reset the password of your account. The link works once, for one hour.',
      'If it was not you, ignore this email: your password stays as it is.',
    ],
    link: opts.link,
    action: 'Choose a new password',
  });
}
