/**
 * A real OpenID Connect provider (the `oidc-provider` package) on loopback, for end-to-end sign-in
 * tests. Interactions are answered automatically: the account named by `signInAs` logs in and consents.
 */
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

export interface TestAccount {
  email: string;
  email_verified: boolean;
  name: string;
}

export interface TestOidcProvider extends AsyncDisposable {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The account (by `sub`) the next interaction logs in as. */
  signInAs(sub: string): void;
  close(): Promise<void>;
}

export async function startOidcProvider(opts: {
  port: number;
  redirectUri: string;
  accounts: Record<string, TestAccount>;
}): Promise<TestOidcProvider> {
  // `localhost`, not 127.0.0.1: a browser keeps cookies per host, so the provider's and the API's
  // (on 127.0.0.1) stay apart as they would on two real sites.
  const issuer = `http://localhost:${opts.port}`;
  const clientId = 'keelson-test';
  const clientSecret = 'keelson-test-secret-0123456789abcdef';
  let next: string | undefined;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [opts.redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    findAccount: async (_ctx, sub) => {
      const account = opts.accounts[sub];
      return account ? { accountId: sub, claims: async () => ({ sub, ...account }) } : undefined;
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // Put the scope's claims in the ID token itself, which is what Keelson reads.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    cookies: { keys: ['keelson-test-cookie-key'] },
  });
  const callback = provider.callback();
  const server = createServer(async (req, res) => {
    try {
      if (req.url?.startsWith('/interaction/')) {
        const details = await provider.interactionDetails(req, res);
        if (details.prompt.name === 'login') {
          if (!next) throw new Error('signInAs() was not called');
          await provider.interactionFinished(
            req,
            res,
            { login: { accountId: next } },
            { mergeWithLastSubmission: false },
          );
          return;
        }
        const grant = new provider.Grant({
          accountId: String(details.session?.accountId),
          clientId: String(details.params.client_id),
        });
        grant.addOIDCScope(String(details.params.scope));
        const grantId = await grant.save();
        await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
        return;
      }
      callback(req, res);
    } catch (err) {
      res.statusCode = 500;
      res.end(String(err));
    }
  });
  await new Promise<void>((resolve) => server.listen(opts.port, '127.0.0.1', resolve));
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return {
    issuer,
    clientId,
    clientSecret,
    signInAs: (sub) => {
      next = sub;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Follows redirects like a browser, with one cookie jar per host, from `url` until a response whose URL
 * path is `stopAt`; returns that response's Location and Set-Cookie headers.
 */
export async function browse(url: string, stopAt: string): Promise<{ location: string | null; cookies: string[] }> {
  const jars = new Map<string, Map<string, string>>();
  let current = url;
  for (let hop = 0; hop < 20; hop++) {
    const host = new URL(current).hostname;
    const jar = jars.get(host) ?? new Map<string, string>();
    jars.set(host, jar);
    const res = await fetch(current, {
      redirect: 'manual',
      headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') },
    });
    const cookies = res.headers.getSetCookie();
    for (const c of cookies) {
      const [pair] = c.split(';');
      const [name, ...value] = (pair ?? '').split('=');
      if (name) jar.set(name.trim(), value.join('='));
    }
    const location = res.headers.get('location');
    if (new URL(current).pathname === stopAt) return { location, cookies };
    if (!location) throw new Error(`no redirect from ${current} (status ${res.status}): ${await res.text()}`);
    current = new URL(location, current).href;
  }
  throw new Error('too many redirects');
}
