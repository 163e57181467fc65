import { type ReactNode, useState } from 'react';
import { describeError } from './errors';
import { formatDuration } from './format';
import { useNow } from './hooks';

/**
 * An error in plain words. While a call waits to be retried by itself (`waiting`: the API said
 * RATE_LIMITED and the query client waits its retryAfterMs) it says how long; errors worth
 * retrying by hand (UNAVAILABLE, network, a limit that kept refusing) offer a button.
 */
export function ErrorNote(props: {
  error: unknown;
  onRetry?: () => void;
  retrying?: boolean;
  waiting?: boolean;
  extra?: ReactNode;
}) {
  const problem = describeError(props.error);
  return (
    <div className="notice notice-error" role="alert">
      <p>
        {problem.message} {props.extra}
      </p>
      {props.waiting && problem.retryAfterMs !== undefined && (
        <RetryCountdown key={String(problem.retryAfterMs)} ms={problem.retryAfterMs} />
      )}
      {!props.waiting && problem.retryable && props.onRetry && (
        <button type="button" className="button-secondary" onClick={props.onRetry} disabled={props.retrying}>
          Try again
        </button>
      )}
    </div>
  );
}

function RetryCountdown(props: { ms: number }) {
  const [until] = useState(() => Date.now() + props.ms);
  const now = useNow(250);
  return <p>We will try again in {Math.max(1, Math.ceil((until - now) / 1000))} s.</p>;
}

export function Countdown(props: { to: string; label: string; onDone?: ReactNode }) {
  const now = useNow();
  const left = new Date(props.to).getTime() - now;
  if (left <= 0 && props.onDone) return <>{props.onDone}</>;
  return (
    <span className="countdown">
      {props.label} <time dateTime={props.to}>{formatDuration(left)}</time>
    </span>
  );
}

export function Loading(props: { what: string }) {
  return (
    <p className="muted" role="status">
      Loading {props.what}…
    </p>
  );
}

export function PageTitle(props: { children: ReactNode }) {
  return <h1 className="page-title">{props.children}</h1>;
}

export function StatusBadge(props: { status: string }) {
  const label = props.status.replace('_', ' ');
  return (
    <span className={`badge badge-${props.status.toLowerCase()}`} data-status={props.status}>
      {label}
    </span>
  );
}

/** Hues of the placeholder art, picked by product id so a product keeps its colour. */
const PLACEHOLDER_HUES = 6;

/**
 * A product's picture, or placeholder art (its initial on a tint) when it has none. Both take
 * the same box (4:3, sized by the layout before the picture arrives), so nothing shifts when it
 * loads. Decorative: the product's name is always next to it.
 */
export function ProductImage(props: {
  product: { id: number; name: string; imageUrl: string | null };
  size?: 'card' | 'large';
}) {
  const p = props.product;
  const className = `product-image product-image-${props.size ?? 'card'}`;
  if (p.imageUrl) {
    return (
      <img
        className={className}
        src={p.imageUrl}
        alt=""
        width={400}
        height={300}
        loading={props.size === 'large' ? 'eager' : 'lazy'}
        decoding="async"
      />
    );
  }
  const initial = Array.from(p.name.trim())[0]?.toUpperCase() ?? '?';
  return (
    <div className={`${className} placeholder hue-${p.id % PLACEHOLDER_HUES}`} aria-hidden="true">
      <span>{initial}</span>
    </div>
  );
}
