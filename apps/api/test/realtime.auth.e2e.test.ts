/**
 * A subscription lives as long as the session it was opened with: log-out, revoking one session or all
 * of a user's, a password change (it ends the other sessions), an admin's disable, expiry (or the clean-up that deletes it) end it with UNAUTHORIZED, a
 * lost admin role with FORBIDDEN, over a real WebSocket and over SSE, within seconds. Others' streams,
 * and the same user's public ones, carry on.
 */
import { randomBytes } from 'node:crypto';
import { hashPassword, hashToken } from '@keelson/auth';
import { closeClient, TRPCClientError } from '@keelson/client';
import { createProduct, createUsers, eventually, sql, startTestApi } from '@keelson/testing';
import { describe, expect, it } from 'vitest';

interface Watched {
  events: unknown[];
  error: unknown;
  started: boolean;
  stop(): void;
}

function watch(
  subscribe: (handlers: { onStarted(): void; onData(e: unknown): void; onError(err: unknown): void }) => {
    unsubscribe(): void;
  },
): Watched {
  const w: Watched = { events: [], error: null, started: false, stop: () => {} };
  const sub = subscribe({
    onStarted: () => {
      w.started = true;
    },
    onData: (e) => w.events.push(e),
    onError: (err) => {
      w.error = err;
    },
  });
  w.stop = () => sub.unsubscribe();
  return w;
}

/** The codes a client sees when its subscription is ended. */
const codes = (err: unknown) =>
  err instanceof TRPCClientError
    ? { code: (err.data as { code?: string }).code, appCode: (err.data as { appCode?: string }).appCode }
    : { code: `not a TRPCClientError: ${String(err)}`, appCode: undefined };

describe('subscriptions end with their session', () => {
  it('log-out, revocations, password change, disable, expiry and demotion end live subscriptions over WebSocket and SSE', {
    timeout: 90_000,
  }, async () => {
    await using api = await startTestApi({ config: { SUBSCRIPTION_AUTH_RECHECK_MS: '200' } });
    const url = api.db.url;
    const product = await createProduct(url, { priceCents: 100, stock: 10 });
    const [loggingOut, revokedByAdmin, disabled, expiring, twoDevices, bystander, changingPassword] = await createUsers(
      url,
      7,
      { prefix: 'life' },
    );
    const [admin, demoted] = await createUsers(url, 2, { role: 'admin', prefix: 'lifeadmin' });
    const client = (token: string, transport?: 'sse') =>
      api.newClient({ token: () => token, ...(transport ? { transport } : {}) });
    const adminApi = client(admin!.token);

    // A second device of the same user: its own session.
    const secondSession = async (userId: string) => {
      const token = randomBytes(32).toString('base64url');
      await sql(
        url,
        `insert into auth_session (id, token_hash, user_id, expires_at, absolute_expires_at, created_at, last_used_at)
         values (gen_random_uuid(), $1, $2, now() + interval '1 hour', now() + interval '2 hours', now(), now())`,
        [hashToken(token), userId],
      );
      return token;
    };
    const secondToken = await secondSession(twoDevices!.id);
    const PASSWORD = 'old passphrase for the lifecycle';
    await sql(url, 'update app_user set password_hash = $1 where id = $2', [
      await hashPassword(PASSWORD),
      changingPassword!.id,
    ]);
    const passwordDeviceToken = await secondSession(changingPassword!.id);

    const ws = {
      loggingOut: client(loggingOut!.token),
      disabled: client(disabled!.token),
      demoted: client(demoted!.token),
      firstDevice: client(twoDevices!.token),
      secondDevice: client(secondToken),
      bystander: client(bystander!.token),
      passwordOldDevice: client(changingPassword!.token),
      passwordNewDevice: client(passwordDeviceToken),
    };
    const sse = {
      revokedByAdmin: client(revokedByAdmin!.token, 'sse'),
      expiring: client(expiring!.token, 'sse'),
      demoted: client(demoted!.token, 'sse'),
    };

    const subs = {
      loggingOut: watch((h) => ws.loggingOut.orders.onStatusChange.subscribe({}, h)),
      // Public: it never depended on the session, so a log-out leaves it running.
      loggingOutStock: watch((h) => ws.loggingOut.catalog.onStockChange.subscribe({ productIds: [product.id] }, h)),
      revokedByAdmin: watch((h) => sse.revokedByAdmin.orders.onStatusChange.subscribe({}, h)),
      disabled: watch((h) => ws.disabled.orders.onStatusChange.subscribe({}, h)),
      expiring: watch((h) => sse.expiring.orders.onStatusChange.subscribe({}, h)),
      demoted: watch((h) => ws.demoted.orders.onStatusChange.subscribe({}, h)),
      // The other two authenticated subscriptions get the same guard: the inbox and the admin dashboard.
      loggingOutInbox: watch((h) => ws.loggingOut.notifications.onNew.subscribe({}, h)),
      demotedDashboard: watch((h) => sse.demoted.dashboard.live.subscribe(undefined, h)),
      firstDevice: watch((h) => ws.firstDevice.orders.onStatusChange.subscribe({}, h)),
      secondDevice: watch((h) => ws.secondDevice.orders.onStatusChange.subscribe({}, h)),
      bystander: watch((h) => ws.bystander.orders.onStatusChange.subscribe({}, h)),
      passwordOldDevice: watch((h) => ws.passwordOldDevice.orders.onStatusChange.subscribe({}, h)),
    };
    // Eleven authenticated subscriptions are watched by the process (the public one is not).
    await eventually(async () => Object.values(subs).every((s) => s.started) && api.app.realtime.stats.watched === 11);

    // Log-out over the same WebSocket.
    await ws.loggingOut.auth.logOut.mutate();
    // An admin ends all of a user's sessions (SSE subscriber).
    await adminApi.users.revokeSessions.mutate({ id: revokedByAdmin!.id });
    // An admin disables an account.
    await adminApi.users.disable.mutate({ id: disabled!.id });
    // A session expires (SSE subscriber); the clean-up job would delete it, which ends it the same way.
    await sql(url, `update auth_session set expires_at = now() - interval '1 second' where user_id = $1`, [
      expiring!.id,
    ]);
    // An admin loses the role their subscription was opened with (it showed every customer's orders).
    await adminApi.users.setRole.mutate({ id: demoted!.id, role: 'customer' });
    // One device revokes the other's session.
    const sessions = await ws.secondDevice.auth.sessions.list.query();
    const first = sessions.find((s) => !s.current)!;
    await ws.secondDevice.auth.sessions.revoke.mutate({ id: first.id });
    // A password change ends the user's other sessions.
    await ws.passwordNewDevice.account.changePassword.mutate({
      currentPassword: PASSWORD,
      newPassword: 'a brand new lifecycle passphrase',
    });

    const ended = [
      subs.loggingOut,
      subs.revokedByAdmin,
      subs.disabled,
      subs.expiring,
      subs.demoted,
      subs.firstDevice,
      subs.passwordOldDevice,
      subs.loggingOutInbox,
      subs.demotedDashboard,
    ];
    await eventually(async () => ended.every((s) => s.error !== null), 10_000);
    expect(
      Object.fromEntries(
        Object.entries({
          loggingOut: subs.loggingOut,
          revokedByAdmin: subs.revokedByAdmin,
          disabled: subs.disabled,
          expiring: subs.expiring,
          demoted: subs.demoted,
          firstDevice: subs.firstDevice,
          passwordOldDevice: subs.passwordOldDevice,
          loggingOutInbox: subs.loggingOutInbox,
          demotedDashboard: subs.demotedDashboard,
        }).map(([name, s]) => [name, codes(s.error)]),
      ),
    ).toEqual({
      loggingOut: { code: 'UNAUTHORIZED', appCode: 'UNAUTHENTICATED' },
      revokedByAdmin: { code: 'UNAUTHORIZED', appCode: 'UNAUTHENTICATED' },
      disabled: { code: 'UNAUTHORIZED', appCode: 'UNAUTHENTICATED' },
      expiring: { code: 'UNAUTHORIZED', appCode: 'UNAUTHENTICATED' },
      demoted: { code: 'FORBIDDEN', appCode: 'FORBIDDEN' },
      firstDevice: { code: 'UNAUTHORIZED', appCode: 'UNAUTHENTICATED' },
      passwordOldDevice: { code: 'UNAUTHORIZED', appCode: 'UNAUTHENTICATED' },
      loggingOutInbox: { code: 'UNAUTHORIZED', appCode: 'UNAUTHENTICATED' },
      demotedDashboard: { code: 'FORBIDDEN', appCode: 'FORBIDDEN' },
    });

    // The others carry on: the process watches exactly the two left, and they still get events.
    await eventually(async () => api.app.realtime.stats.watched === 2);
    expect([subs.secondDevice.error, subs.bystander.error, subs.loggingOutStock.error]).toEqual([null, null, null]);
    await adminApi.catalog.restock.mutate({ productId: product.id, delta: 1 });
    await eventually(async () => subs.loggingOutStock.events.length === 1, 10_000);

    // Ended subscriptions left nothing behind in the event hub.
    for (const s of Object.values(subs)) s.stop();
    await eventually(
      async () =>
        api.app.events.subscriberCount === 0 &&
        api.app.dashboard.subscriberCount === 0 &&
        api.app.realtime.stats.watched === 0,
    );
    // Closed sockets give their connection slots back.
    await Promise.all([...Object.values(ws), ...Object.values(sse)].map((c) => closeClient(c)));
    await eventually(async () => api.app.realtime.stats.slots === 0);
  });
});
