import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef } from 'react';
import { useTRPC } from '../api';
import { ErrorNote, Loading, PageTitle } from '../components';
import { formatDateTime } from '../format';
import { useNow } from '../hooks';
import { Link, navigate } from '../router';
import { useSession } from '../session';
import {
  describeWait,
  nextPollMs,
  type RoomEntry,
  type RoomView,
  saleRouteOf,
  standingOf,
} from '../waiting-room';
import { passes } from '../waiting-room-pass';

/**
 * The waiting page of a sale: the shopper's ticket, how many are ahead, an estimated wait and a
 * progress bar. It polls the room's public `waitingRoom.get` (the same answer for everyone, so a
 * CDN can serve it) and works out its own place from its ticket and `admittedThrough`; once that
 * says admitted it asks `waitingRoom.status` for the pass, keeps it, and opens the sale.
 */
export function WaitingRoomPage(props: { roomId: number }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const session = useSession();
  const now = useNow();
  const userId = session?.userId;
  const stored = userId ? passes.entry(userId, props.roomId) : undefined;

  const room = useQuery(
    trpc.waitingRoom.get.queryOptions(
      { roomId: props.roomId },
      {
        refetchInterval: (query) => {
          const data = query.state.data;
          const entry = userId ? passes.entry(userId, props.roomId) : undefined;
          if (!data || !entry) return 5000;
          return nextPollMs(standingOf(data, entry.ticket, entry.startedAt, Date.now()));
        },
      },
    ),
  );

  // Joining again answers the same ticket (and the pass, once admitted), so the page joins on
  // every visit: a reload, or the way back from a sale that refused an expired pass.
  const join = useMutation(
    trpc.waitingRoom.join.mutationOptions({
      onSuccess: (answer) => {
        if (!userId) return;
        const before = passes.entry(userId, props.roomId);
        passes.save(userId, props.roomId, {
          ticket: answer.ticket,
          startedAt:
            before?.ticket === answer.ticket ? before.startedAt : answer.ticket - 1 - answer.position,
          pass: before?.pass ?? null,
          refusedPass: before?.refusedPass ?? null,
          couponIds: room.data?.couponIds ?? before?.couponIds ?? [],
          productIds: room.data?.productIds ?? before?.productIds ?? [],
        });
        if (answer.pass) admit(answer.pass);
        // The room as it stands now, this ticket counted.
        return queryClient.invalidateQueries(trpc.waitingRoom.get.queryFilter({ roomId: props.roomId }));
      },
    }),
  );
  const joinedFor = useRef<number | undefined>(undefined);
  useEffect(() => {
    if (userId && room.data && joinedFor.current !== userId) {
      joinedFor.current = userId;
      join.mutate({ roomId: props.roomId });
    }
  }, [userId, room.data, props.roomId, join.mutate]);

  const entry = join.isSuccess ? (userId ? passes.entry(userId, props.roomId) : undefined) : undefined;
  const standing = room.data && entry ? standingOf(room.data, entry.ticket, entry.startedAt, now) : undefined;
  // admittedThrough says this ticket is in: one call for the pass (waitingRoom.status).
  const status = useQuery(
    trpc.waitingRoom.status.queryOptions(
      { roomId: props.roomId },
      { enabled: Boolean(standing?.admitted && entry && !entry.pass), staleTime: 0 },
    ),
  );
  const statusPass = status.data?.pass ?? null;
  useEffect(() => {
    if (statusPass) admit(statusPass);
  }, [statusPass]);

  function admit(pass: string) {
    if (!userId) return;
    const current = passes.entry(userId, props.roomId);
    if (!current || current.refusedPass === pass) return;
    passes.save(userId, props.roomId, { ...current, pass, refusedPass: null });
    navigate(saleRouteOf(current));
  }

  if (room.isPending) return <Loading what="the waiting room" />;
  if (room.error) return <ErrorNote error={room.error} onRetry={() => room.refetch()} />;
  const r = room.data;
  const expiredPass = stored?.refusedPass && !entry?.pass ? stored.refusedPass : null;
  const sameExpiredPass =
    expiredPass !== null && (join.data?.pass === expiredPass || status.data?.pass === expiredPass);

  if (sameExpiredPass) {
    return (
      <article className="panel waiting">
        <PageTitle>{r.name}: waiting room</PageTitle>
        <p className="notice notice-error" role="alert">
          Your time to shop in this sale ran out, so you are back in the waiting room. Your turn has passed
          and this sale cannot let you in again.
        </p>
        <p>
          <Link to="/coupons">See the other coupon sales</Link>
        </p>
      </article>
    );
  }
  return (
    <article className="panel waiting">
      <PageTitle>{r.name}: waiting room</PageTitle>
      {expiredPass && (
        <p className="notice notice-error" role="alert">
          Your time to shop in this sale ran out, so you are back in the waiting room.
        </p>
      )}
      <p>
        This sale is busy, so shoppers go in one after another, in the order they arrived. Keep this page
        open: it takes you to the sale when it is your turn.
      </p>
      {!session && <p className="notice">Sign in (top of the page) to take your place in the queue.</p>}
      {join.error && <ErrorNote error={join.error} onRetry={() => join.mutate({ roomId: props.roomId })} />}
      {session && !join.error && !standing && <Loading what="your place in the queue" />}
      {standing && entry && <Place room={r} entry={entry} standing={standing} />}
      {standing?.admitted && !expiredPass && (
        <p className="notice notice-success" role="status">
          It is your turn. Taking you to the sale…
        </p>
      )}
      {status.error && <ErrorNote error={status.error} onRetry={() => status.refetch()} />}
      <p className="muted">
        {r.joined.toLocaleString('en-US')} shoppers have joined; {r.admittedThrough.toLocaleString('en-US')}{' '}
        have gone in.
      </p>
    </article>
  );
}

function Place(props: { room: RoomView; entry: RoomEntry; standing: ReturnType<typeof standingOf> }) {
  const { room, entry, standing } = props;
  const opensLater = room.opensAt && new Date(room.opensAt).getTime() > Date.now();
  const percent = Math.round(standing.progress * 100);
  return (
    <section aria-labelledby="place-title" className="place">
      <h2 id="place-title">Your place</h2>
      <dl className="facts place-facts">
        <dt>Your ticket</dt>
        <dd data-testid="ticket">{entry.ticket.toLocaleString('en-US')}</dd>
        <dt>Ahead of you</dt>
        <dd data-testid="ahead">{standing.ahead.toLocaleString('en-US')}</dd>
        <dt>Estimated wait</dt>
        <dd data-testid="wait">{standing.admitted ? 'none' : describeWait(standing.etaSeconds)}</dd>
      </dl>
      <label className="progress-label" htmlFor="queue-progress">
        Queue progress: {percent}%
      </label>
      <progress id="queue-progress" className="queue-progress" max={100} value={percent}>
        {percent}%
      </progress>
      {room.paused && (
        <p className="notice">Admission is paused for a moment. You keep your place in the queue.</p>
      )}
      {opensLater && room.opensAt && (
        <p className="notice">The sale opens at {formatDateTime(room.opensAt)}.</p>
      )}
    </section>
  );
}
