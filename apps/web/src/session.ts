import { useSyncExternalStore } from 'react';

/**
 * Who is signed in. The token lives in memory and in sessionStorage (this tab only, gone when
 * it closes), never in a URL or a cookie. In production the host page that signs the shopper in
 * writes it to sessionStorage under TOKEN_KEY before opening the app (docs/frontend.md).
 */
export const TOKEN_KEY = 'flash.token';

export type Session = { token: string; userId: number } | null;

const listeners = new Set<() => void>();
let session: Session = read();

function read(): Session {
  try {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const userId = token ? subjectOf(token) : undefined;
    return token && userId ? { token, userId } : null;
  } catch {
    return null;
  }
}

/** The user id a token names (its `sub` claim); the API checks the signature, not this. */
function subjectOf(token: string): number | undefined {
  try {
    const payload = token.split('.')[1] ?? '';
    const json = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { sub?: unknown };
    const id = Number(json.sub);
    return Number.isSafeInteger(id) && id > 0 ? id : undefined;
  } catch {
    return undefined;
  }
}

export function currentToken(): string | undefined {
  return session?.token;
}

export function currentUserId(): number | undefined {
  return session?.userId;
}

export function signIn(token: string): void {
  const userId = subjectOf(token);
  if (!userId) throw new Error('not a token for a user');
  session = { token, userId };
  try {
    sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Storage refused (private mode): the session lasts as long as the page.
  }
  for (const l of listeners) l();
}

export function signOut(): void {
  session = null;
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {}
  for (const l of listeners) l();
}

export function useSession(): Session {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => session,
  );
}
