// The API on every core (API_PROCESSES > 1): packages/core/src/process/processes.ts forks the
// copies; this adds what is the API's own. `/metrics` answers for the whole API, not for the
// copy that happened to get the scrape: behind one port a scraper cannot choose a copy, so
// per-copy counters would jump between copies and read as resets. The copy asks the supervisor,
// which collects every copy's registry (prom-client's AggregatorRegistry: counters and
// histograms summed, queue gauges taken once) and sends the text back.
import cluster from 'node:cluster';
import { superviseCopies } from '@flash/core';
import { AggregatorRegistry, type Registry } from 'prom-client';

const ASK = 'flash:metrics?';
const ANSWER = 'flash:metrics';
const ASK_TIMEOUT_MS = 5_000;

type Answer = { type: typeof ANSWER; id: number; text?: string; error?: string };

/** True when this process became the supervisor of `count` API processes (it serves nothing itself). */
export function superviseApi(count: number): boolean {
  const supervisor = superviseCopies('api', count);
  if (!supervisor) return false;
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: { type?: string; id?: number }) => {
    if (message?.type !== ASK) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: ANSWER, id: message.id, text }),
      (err: unknown) => worker.send({ type: ANSWER, id: message.id, error: String(err) }),
    );
  });
  void supervisor.exited.then((code) => process.exit(code));
  return true;
}

/** In one of several API processes: renders every process's metrics together. Undefined otherwise. */
export function clusterMetrics(registry: Registry): (() => Promise<string>) | undefined {
  if (!cluster.isWorker) return undefined;
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one is what makes prom-client answer the supervisor's collection requests here.
  new AggregatorRegistry();
  let next = 0;
  const waiting = new Map<number, { resolve(text: string): void; reject(err: Error): void }>();
  process.on('message', (message: Answer) => {
    if (message?.type !== ANSWER) return;
    const w = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.text !== undefined) w?.resolve(message.text);
    else w?.reject(new Error(message.error ?? 'no metrics'));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('the API supervisor did not answer for the metrics'));
      }, ASK_TIMEOUT_MS);
      waiting.set(id, {
        resolve: (text) => {
          clearTimeout(timer);
          resolve(text);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      process.send?.({ type: ASK, id });
    });
}
