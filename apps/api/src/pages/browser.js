// The forms of the built-in pages (apps/api/src/pages.ts): each calls one tRPC procedure over plain
// fetch, as the web app will through @keelson/client. Same origin, so the session cookie just works.

/** One tRPC call without batching: superjson's `{ json }` envelope both ways. */
async function call(type, path, input) {
  const url = `/trpc/${path}`;
  const res =
    type === 'query'
      ? await fetch(input === undefined ? url : `${url}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`)
      : await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ json: input ?? null }),
        });
  const body = await res.json().catch(() => null);
  if (body?.error) {
    const { message, data } = body.error.json ?? {};
    const fields = Object.values(data?.fieldErrors ?? {}).flat();
    throw new Error([message, ...fields].filter(Boolean).join(' ') || `Request failed (${res.status}).`);
  }
  if (!res.ok || !body) throw new Error(`Request failed (${res.status}).`);
  return body.result.data.json;
}

const params = new URLSearchParams(location.search);
// Emailed links carry the token in the fragment, which the browser never sends: no access log, proxy or
// trace sees it (older links had it in the query). Once read, it leaves the address bar, so that nothing
// copied from there carries it; it is kept for this tab until used, so a reload still works.
const TOKEN_KEY = `keelson:${location.pathname}:token`;
const linked = new URLSearchParams(location.hash.slice(1)).get('token') ?? params.get('token');
if (linked) {
  sessionStorage.setItem(TOKEN_KEY, linked);
  history.replaceState(null, '', location.pathname);
}
const token = sessionStorage.getItem(TOKEN_KEY);
const used = () => sessionStorage.removeItem(TOKEN_KEY);

const say = (text) => {
  const el = document.querySelector('[data-result]');
  if (el) el.textContent = text;
};

const actions = {
  'verify-email': async () => {
    const user = await call('mutation', 'auth.verifyEmail', { token });
    used();
    say(`${user.email} is verified. You can sign in.`);
  },
  'reset-password': async (form) => {
    await call('mutation', 'auth.resetPassword', { token, password: form.password.value });
    used();
    say('Your password is changed and every session ended. Sign in with the new one.');
  },
  'sign-in': async (form) => {
    await call('mutation', 'auth.logIn', { email: form.email.value, password: form.password.value });
    location.assign('/account');
  },
  'log-out': async () => {
    await call('mutation', 'auth.logOut');
    location.assign('/sign-in');
  },
};

for (const form of document.querySelectorAll('form[data-action]')) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      await actions[form.dataset.action](form);
    } catch (err) {
      say(err.message);
    } finally {
      button.disabled = false;
    }
  });
}

const error = params.get('error');
const errorEl = document.querySelector('[data-error]');
if (errorEl && error) errorEl.textContent = `Sign-in failed (${error}). Try again.`;

const accountEl = document.querySelector('[data-account]');
if (accountEl) {
  call('query', 'auth.me')
    .then((user) => {
      if (!user) {
        accountEl.textContent = 'You are not signed in.';
        return;
      }
      accountEl.textContent = `Signed in as ${user.name} <${user.email}> (${user.role}).`;
      document.querySelector('form[data-action="log-out"]').hidden = false;
    })
    .catch((err) => {
      accountEl.textContent = err.message;
    });
}
