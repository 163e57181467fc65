import { createGroupCommit, failed, type GroupCommit, ok, type Settled } from '../batch/group-commit.ts';
import type { ReplicaWait } from '../config.ts';
import { Cluster, type RedisClient } from './cluster.ts';
import { isNoScript, type LoadedScript, runScript, shippedScript } from './scripts.ts';

/**
 * Scripts whose answer must survive a failover (REDIS_WAIT_REPLICAS, docs/adr/0201): the script
 * runs, then Redis `WAIT n timeout` on the same connection, and the caller learns whether `n`
 * replicas acknowledged its write before answering anyone.
 *
 * Why this shape:
 * - WAIT cannot run inside a script, and it counts the writes of the connection that sends it
 *   (the client's own replication offset), so it must follow the EVALSHA on that connection.
 *   A pipeline does that on both kinds of client. On a Cluster, ioredis routes a pipeline by
 *   the keys of its keyed commands (all in one slot here) and a keyless WAIT adds none, so the
 *   whole pipeline goes to that slot's master in one write (ioredis 6, built/Pipeline.js `exec`:
 *   `pipelineSlot` from the sample keys; every command is sent with `node = { slot }`).
 * - One WAIT covers every write its connection sent before it, so the calls of one event-loop
 *   turn share one: a pipeline of their EVALSHAs and one WAIT. A WAIT blocks its connection
 *   until the replicas answer; while one is out, new calls queue for the next pipeline instead
 *   of stacking WAITs behind it. With a replica gone, each pipeline then costs one timeout
 *   however many calls it carries, and nothing queues longer than two timeouts (below the 3 s
 *   command deadline of request connections).
 * - On a Cluster the calls are grouped by hash tag (one slot), because a pipeline must stay on
 *   one node; on one Redis every call shares one pipeline.
 */

/** A script's raw reply, and whether the replicas acknowledged its write before the timeout. */
export type Replicated = { raw: unknown; replicated: boolean };

type Call = { script: LoadedScript; keys: string[]; args: (string | number)[] };

/** Most calls in one pipeline; more wait for the next one. */
const MAX_PIPELINE = 1000;

/** The part of a key that picks its cluster slot (Redis' hash tag rule). */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

function isRedirection(err: unknown): boolean {
  return err instanceof Error && /^(MOVED|ASK) /.test(err.message);
}

/**
 * Runs shipped scripts whose answer must survive a failover, for one connection and one wait
 * setting. Built once per runtime (runtime.ts); it owns the lanes: one group commit with one
 * batch in flight (one WAIT out at a time) per hash tag on a Cluster, one in all on one Redis. A
 * lane is dropped when it has nothing left to do.
 */
export type ReplicaWaiter = {
  /** How many replicas must acknowledge a write (REDIS_WAIT_REPLICAS); 0: no WAIT at all. */
  readonly replicas: number;
  /**
   * Runs a script and, when `wait.replicas` >= 1, waits until that many replicas acknowledged it
   * or `wait.timeoutMs` passed. Rejects as `runScript` does when the script itself failed (it
   * may or may not have run, as with any lost reply); `replicated: false` means it ran on the
   * master but is not known to be on enough replicas (a timeout, or the connection lost while
   * waiting). With `wait.replicas === 0` it is the one EVALSHA, `replicated: true`.
   */
  run(name: string, keys: string[], args: (string | number)[]): Promise<Replicated>;
};

export function createReplicaWaiter(redis: RedisClient, wait: ReplicaWait): ReplicaWaiter {
  const lanes = new Map<string, GroupCommit<Call, Replicated>>();
  const laneFor = (keys: string[]) => {
    const id = redis instanceof Cluster ? hashTag(keys[0] ?? '') : '';
    let lane = lanes.get(id);
    if (!lane) {
      lane = createGroupCommit<Call, Replicated>({
        maxBatch: MAX_PIPELINE,
        maxInFlight: 1,
        commit: (calls) => sendWithWait(redis, wait, calls, false),
        onIdle: () => lanes.delete(id),
      });
      lanes.set(id, lane);
    }
    return lane;
  };
  return {
    replicas: wait.replicas,
    async run(name, keys, args) {
      if (wait.replicas === 0) return { raw: await runScript(redis, name, keys, args), replicated: true };
      return laneFor(keys).submit({ script: shippedScript(name), keys, args });
    },
  };
}

/**
 * One pipeline: the calls' scripts, then one WAIT. A call that met NOSCRIPT did not run: it is
 * sent again with its source (EVAL, which caches the script again) in a pipeline of its own.
 */
async function sendWithWait(
  redis: RedisClient,
  wait: ReplicaWait,
  calls: Call[],
  withSource: boolean,
): Promise<Settled<Replicated>[]> {
  const pipeline = redis.pipeline();
  for (const c of calls) {
    const { sha, lua, numberOfKeys } = c.script;
    if (withSource) pipeline.eval(lua, numberOfKeys, ...c.keys, ...c.args);
    else pipeline.evalsha(sha, numberOfKeys, ...c.keys, ...c.args);
  }
  pipeline.wait(wait.replicas, wait.timeoutMs);
  // A pipeline that fails as a whole (e.g. the cluster could not be reached) fails every call,
  // as a lost reply.
  const results = (await pipeline.exec()) ?? [];
  const [waitErr, acked] = results[calls.length] ?? [new Error('no reply to WAIT')];
  const replicated = !waitErr && typeof acked === 'number' && acked >= wait.replicas;
  const settled: Settled<Replicated>[] = [];
  const again: number[] = [];
  for (const [i] of calls.entries()) {
    const [err, raw] = results[i] ?? [new Error('no reply to the script')];
    if (!err) settled.push(ok({ raw, replicated }));
    else if (isNoScript(err) && !withSource) {
      again.push(i);
      settled.push(failed(err));
    } else {
      // MOVED/ASK: the pipeline went to a node that no longer serves the slot (a failover).
      // ioredis follows redirections of a pipeline only when every command failed alike, and
      // the keyless WAIT succeeded, so the slot map would stay stale: refresh it. The script
      // did not run; the caller answers UNAVAILABLE (errors.ts) and its retry is routed anew.
      if (redis instanceof Cluster && isRedirection(err)) redis.refreshSlotsCache();
      settled.push(failed(err));
    }
  }
  if (again.length > 0) {
    const retried = await sendWithWait(
      redis,
      wait,
      again.map((i) => calls[i]!),
      true,
    ).catch((err: unknown) => again.map(() => failed<Replicated>(err)));
    for (const [j, i] of again.entries()) settled[i] = retried[j]!;
  }
  return settled;
}
