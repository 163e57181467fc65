import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { useTRPC } from './api';
import { describeError } from './errors';
import { signIn, signOut, useSession } from './session';

/**
 * Local sign-in: `dev.token` hands a token for a user id (the API refuses it in production,
 * where the host page signs the shopper in and leaves the token in sessionStorage).
 */
export function SignIn() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const session = useSession();
  const [userId, setUserId] = useState('');
  const inputId = useId();
  const devToken = useMutation(
    trpc.dev.token.mutationOptions({
      onSuccess: ({ token }) => {
        signIn(token);
        queryClient.clear();
      },
    }),
  );

  if (session) {
    return (
      <div className="session">
        <span>
          <span className="wide-only">Signed in as </span>user{' '}
          <strong data-testid="user-id">{session.userId}</strong>
        </span>
        <button
          type="button"
          className="button-secondary"
          onClick={() => {
            signOut();
            queryClient.clear();
          }}
        >
          Sign out
        </button>
      </div>
    );
  }
  const refused = devToken.error ? describeError(devToken.error) : undefined;
  return (
    <form
      className="session"
      onSubmit={(e) => {
        e.preventDefault();
        devToken.mutate({ userId: Number(userId) });
      }}
    >
      <label htmlFor={inputId}>User id</label>
      <input
        id={inputId}
        className="input-user"
        inputMode="numeric"
        autoComplete="off"
        value={userId}
        onChange={(e) => setUserId(e.target.value)}
      />
      <button type="submit" disabled={devToken.isPending || !/^[1-9]\d*$/.test(userId)}>
        Sign in
      </button>
      {refused && (
        <p className="session-error" role="alert">
          {refused.code === 'FORBIDDEN' ? 'Sign in through the shop’s account page.' : refused.message}
        </p>
      )}
    </form>
  );
}
