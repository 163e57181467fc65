import type { Discount } from './api';

const krw = new Intl.NumberFormat('ko-KR', { style: 'currency', currency: 'KRW' });

/** Whole won, as Korean shoppers read it: ₩50,000. */
export function formatKRW(amount: number): string {
  return krw.format(amount);
}

export function formatDiscount(discount: Discount): string {
  return discount.type === 'FIXED' ? `${formatKRW(discount.value)} off` : `${discount.value}% off`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function formatDateTime(iso: string): string {
  return dateTime.format(new Date(iso));
}

const date = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

export function formatDate(iso: string): string {
  return date.format(new Date(iso));
}

/** "valid 30 days" of a coupon's validDays; null: valid until used. */
export function formatValidity(validDays: number | null): string {
  if (validDays === null) return 'valid until used';
  return `valid ${validDays} ${validDays === 1 ? 'day' : 'days'} after you claim it`;
}

/** Whole days from now until `iso`, rounded up (a coupon expiring in 3 h has 1 day left). */
export function daysLeft(iso: string, now: number): number {
  return Math.max(0, Math.ceil((new Date(iso).getTime() - now) / 86_400_000));
}

/** 1:05:09, 14:59, 0:07 */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(s).padStart(2, '0')}`;
}
