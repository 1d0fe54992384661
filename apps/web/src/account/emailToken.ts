import { useState } from 'react';

/**
 * The token of an emailed link (`/verify-email#token=…`): read once from the fragment, which browsers
 * never send to a server, then taken out of the address bar (and so out of history and screenshots) and
 * kept in this tab's sessionStorage until it is used, so a reload still works. `?token=` (older links)
 * is read the same way.
 */
export function useEmailToken(kind: 'verify' | 'reset'): { token: string | null; used: () => void } {
  const key = `keelson.${kind}Token`;
  const [token] = useState(() => {
    const fromUrl =
      new URLSearchParams(location.hash.slice(1)).get('token') ?? new URLSearchParams(location.search).get('token');
    if (fromUrl) {
      sessionStorage.setItem(key, fromUrl);
      history.replaceState(history.state, '', location.pathname);
    }
    return sessionStorage.getItem(key);
  });
  return { token, used: () => sessionStorage.removeItem(key) };
}
