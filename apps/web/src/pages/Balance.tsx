import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useRef, useState } from 'react';
import { newIdempotencyKey, useTRPC } from '../api';
import { ErrorNote, Loading, PageTitle } from '../components';
import { formatKRW } from '../format';
import { useSession } from '../session';

export function BalancePage() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const session = useSession();
  const balance = useQuery(trpc.balance.get.queryOptions(undefined, { enabled: session !== null }));
  const [amount, setAmount] = useState('');
  const amountId = useId();
  const hintId = useId();
  // One key per charge the shopper means: a retry of the same amount replays it, never charges twice.
  const key = useRef<{ amount: number; key: string } | null>(null);
  const charge = useMutation(
    trpc.balance.charge.mutationOptions({
      onSuccess: (result) => {
        key.current = null;
        setAmount('');
        queryClient.setQueryData(trpc.balance.get.queryKey(), {
          userId: result.userId,
          balance: result.balance,
        });
      },
    }),
  );

  if (!session) return <p>Sign in (top of the page) to see your balance.</p>;
  const submit = () => {
    const value = Number(amount.replace(/[,\s₩]/g, ''));
    if (key.current?.amount !== value) key.current = { amount: value, key: newIdempotencyKey() };
    charge.mutate({ amount: value, idempotencyKey: key.current.key });
  };
  return (
    <section className="panel">
      <PageTitle>Balance</PageTitle>
      {balance.isPending && <Loading what="your balance" />}
      {balance.error && <ErrorNote error={balance.error} onRetry={() => balance.refetch()} />}
      {balance.data && (
        <p className="balance">
          <span className="muted">Available</span>{' '}
          <strong data-testid="balance">{formatKRW(balance.data.balance)}</strong>
        </p>
      )}
      <form
        className="stack"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        <div className="field">
          <label htmlFor={amountId}>Amount to charge (KRW)</label>
          <input
            id={amountId}
            inputMode="numeric"
            autoComplete="off"
            aria-describedby={hintId}
            value={amount}
            onChange={(e) => setAmount(e.target.value)}
          />
          <p id={hintId} className="muted">
            From ₩1,000 up to ₩10,000,000 at once.
          </p>
        </div>
        <button type="submit" disabled={charge.isPending || amount.trim() === ''}>
          {charge.isPending ? 'Charging…' : 'Charge'}
        </button>
      </form>
      {charge.isSuccess && (
        <p className="notice notice-success" role="status">
          Charged {formatKRW(charge.variables.amount)}. Your balance is {formatKRW(charge.data.balance)}.
        </p>
      )}
      {charge.isPending && charge.failureReason && <ErrorNote error={charge.failureReason} waiting />}
      {charge.error && <ErrorNote error={charge.error} onRetry={submit} retrying={charge.isPending} />}
    </section>
  );
}
