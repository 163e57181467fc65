import { dismissSessionEnded, useSession, useSessionEnded } from './session';

/**
 * Said when the API refused the shopper's token (it expired, or was never valid): otherwise the
 * header would just switch back to "Sign in" with no word why.
 */
export function SessionEndedNotice() {
  const ended = useSessionEnded();
  const session = useSession();
  if (!ended || session) return null;
  return (
    <div className="notice notice-warning session-ended" role="alert">
      <p>Your session ended. Sign in again (top of the page) to continue.</p>
      <button type="button" className="button-secondary" onClick={dismissSessionEnded}>
        Dismiss
      </button>
    </div>
  );
}
