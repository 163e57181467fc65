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
/** The API refused the token (expired, forged): the page says so until the shopper signs in. */
let ended = false;

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
  ended = false;
  try {
    sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Storage refused (private mode): the session lasts as long as the page.
  }
  for (const l of listeners) l();
}

/** `ended`: the API refused the token, not the shopper's choice; the app shows a notice. */
export function signOut(options: { ended?: boolean } = {}): void {
  session = null;
  ended = options.ended ?? false;
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {}
  for (const l of listeners) l();
}

function subscribe(l: () => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function useSession(): Session {
  return useSyncExternalStore(subscribe, () => session);
}

/** Whether the last session was ended by the API (until the next sign-in or a dismissal). */
export function useSessionEnded(): boolean {
  return useSyncExternalStore(subscribe, () => ended);
}

export function dismissSessionEnded(): void {
  ended = false;
  for (const l of listeners) l();
}
