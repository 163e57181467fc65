/**
 * The waiting rooms' Prometheus metrics, in the API's registry (trpc/metrics.ts). The ops
 * dashboards read these names:
 *   flash_waiting_room_joined_total{room}          tickets handed out by this process
 *   flash_waiting_room_admitted_through{room}      highest ticket admitted (read at scrape)
 *   flash_waiting_room_waiting{room}               tickets not yet admitted (read at scrape)
 *   flash_waiting_room_oldest_wait_seconds{room}   how long the oldest waiting ticket has waited
 *   flash_waiting_room_pass_refusals_total{reason} guarded calls refused NOT_ADMITTED, by why
 * The gauges read each room's hash when Prometheus scrapes (two small reads per room), so
 * serving shoppers costs nothing for them; with several API processes one reading is kept
 * (aggregator `first`), the counters are summed.
 */
import {
  admittedThrough,
  type PassRefusal,
  type Runtime,
  readOldestWaitingSince,
  readRoom,
  type WaitingRoomDirectory,
} from '@flash/core';
import { Counter, Gauge, type Registry } from 'prom-client';
import { apiMetrics } from './metrics.ts';

export type WaitingRoomMetrics = {
  joined: Counter<'room'>;
  passRefusals: Counter<'reason'>;
};

const byRegistry = new WeakMap<Registry, WaitingRoomMetrics>();

/** The metrics of one API runtime, registered on first use (several servers may share a runtime). */
export function waitingRoomMetrics(rt: Runtime, rooms?: WaitingRoomDirectory): WaitingRoomMetrics {
  const { registry } = apiMetrics(rt);
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const admitted = new Gauge({
    name: 'flash_waiting_room_admitted_through',
    help: 'The highest ticket admitted so far, per waiting room',
    labelNames: ['room'],
    registers,
    aggregator: 'first',
    collect: () => read(),
  });
  const waiting = new Gauge({
    name: 'flash_waiting_room_waiting',
    help: 'Tickets handed out and not yet admitted, per waiting room',
    labelNames: ['room'],
    registers,
    aggregator: 'first',
    collect: () => read(),
  });
  const oldest = new Gauge({
    name: 'flash_waiting_room_oldest_wait_seconds',
    help: 'How long the oldest ticket not yet admitted has waited (0 when nobody waits), per waiting room',
    labelNames: ['room'],
    registers,
    aggregator: 'first',
    collect: () => read(),
  });
  let reading: Promise<void> | undefined;
  const read = () => {
    reading ??= refresh().finally(() => {
      reading = undefined;
    });
    return reading;
  };
  const refresh = async () => {
    if (!rooms) return;
    await Promise.all(
      rooms.rooms().map(async ({ id }) => {
        const room = String(id);
        try {
          const keys = rt.keys.waitingRoom(id);
          const stored = await readRoom(rt.redis, keys);
          if (!stored) return;
          const nowMs = rt.clock.now().getTime();
          const through = admittedThrough(stored.state, nowMs);
          const behind = stored.state.joined - through;
          admitted.labels(room).set(through);
          waiting.labels(room).set(behind);
          const since = behind > 0 ? await readOldestWaitingSince(rt.redis, keys, through + 1) : undefined;
          oldest.labels(room).set(since === undefined ? 0 : Math.max(0, (nowMs - since) / 1000));
        } catch {
          // Redis down: no stale figures for this room.
          admitted.remove(room);
          waiting.remove(room);
          oldest.remove(room);
        }
      }),
    );
  };
  const created: WaitingRoomMetrics = {
    joined: new Counter({
      name: 'flash_waiting_room_joined_total',
      help: 'Tickets handed out by waitingRoom.join (a repeated join is not counted again), per waiting room',
      labelNames: ['room'],
      registers,
    }),
    passRefusals: new Counter({
      name: 'flash_waiting_room_pass_refusals_total',
      help: 'Guarded calls refused NOT_ADMITTED, by reason: missing, malformed, forged, expired, other_user, other_room',
      labelNames: ['reason'],
      registers,
    }),
  };
  byRegistry.set(registry, created);
  return created;
}

export function countRefusal(rt: Runtime, reason: PassRefusal): void {
  waitingRoomMetrics(rt).passRefusals.inc({ reason });
}
