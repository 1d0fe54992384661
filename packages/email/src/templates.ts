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

/** To the owner of an address someone tried to sign up with; the sign-up itself was answered as any other. */
export function accountExistsMessage(opts: { to: string; name: string; link: string }): Message {
  return layout({
    to: opts.to,
    subject: 'Someone tried to create an account with your address',
    greeting: `Hello ${opts.name},`,
    lines: [
      'Someone tried to create a new account with this email address, which already has one.',
      'If it was you: log in instead; if you forgot your password, choose "Forgot your password?" on the log-in page to reset it.',
      'If it was not you, ignore this email: nothing was created and your account is unchanged.',
    ],
    link: opts.link,
    action: 'Log in',
  });
}

export interface OrderSummary {
  id: string;
  totalCents: number;
  currency: string;
  lines: { productName: string; quantity: number; lineTotalCents: number }[];
  paymentError?: string | null;
}

/** `1234` cents → `12.34 USD`. Minor units are cents for every currency the store supports. */
export function formatMoney(cents: number, currency: string): string {
  return `${(cents / 100).toFixed(2)} ${currency}`;
}

const ORDER_STATUS_TEXT = {
  paid: {
    subject: (ref: string) => `Order ${ref} confirmed`,
    intro: 'Thank you for your order. Your payment went through and we are preparing it:',
  },
  shipped: {
    subject: (ref: string) => `Order ${ref} shipped`,
    intro: 'Your order is on its way:',
  },
  payment_failed: {
    subject: (ref: string) => `Payment for order ${ref} failed`,
    intro: 'We could not take the payment for your order, so it was not placed:',
  },
} as const;

/** Order confirmation, shipping notice or payment failure, with the order's lines and total. */
export function orderStatusMessage(opts: {
  to: string;
  name: string;
  status: keyof typeof ORDER_STATUS_TEXT;
  order: OrderSummary;
  link: string;
}): Message {
  const text = ORDER_STATUS_TEXT[opts.status];
  const ref = opts.order.id.slice(-8).toUpperCase();
  const lines = [
    text.intro,
    ...opts.order.lines.map(
      (l) => `${l.quantity} × ${l.productName}: ${formatMoney(l.lineTotalCents, opts.order.currency)}`,
    ),
    `Total: ${formatMoney(opts.order.totalCents, opts.order.currency)}`,
    ...(opts.status === 'payment_failed' && opts.order.paymentError ? [`Reason: ${opts.order.paymentError}`] : []),
  ];
  return layout({
    to: opts.to,
    subject: text.subject(ref),
    greeting: `Hello ${opts.name},`,
    lines,
    link: opts.link,
    action: 'See your order',
  });
}

/** Support replied and the reply is still unread (one per burst of replies). */
export function chatReplyMessage(opts: {
  to: string;
  name: string;
  subject: string;
  replies: number;
  lastReply: string;
  link: string;
}): Message {
  const quote = opts.lastReply.length > 500 ? `${opts.lastReply.slice(0, 500)}…` : opts.lastReply;
  return layout({
    to: opts.to,
    subject: `Support replied: ${opts.subject}`,
    greeting: `Hello ${opts.name},`,
    lines: [
      opts.replies === 1
        ? 'Our support team replied to your conversation:'
        : `Our support team sent you ${opts.replies} replies:`,
      quote,
    ],
    link: opts.link,
    action: 'Read and reply',
  });
}
