import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { SHUTDOWN_TIMEOUT_MS } from '@flash/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prettyLine } from '../../../scripts/pretty-log.ts';
import { createTestEnv, type TestEnv } from '../../../test/support.ts';
import { waitFor } from './faults-helpers.ts';

const root = path.resolve(import.meta.dirname, '../../..');

type Service = {
  process: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
};

/** Runs `command args` from the repository root with its output captured (so stdout is not a terminal). */
function launch(command: string, args: string[], env: NodeJS.ProcessEnv): Service {
  const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => {
    stdout += c;
  });
  child.stderr!.on('data', (c) => {
    stderr += c;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { process: child, stdout: () => stdout, stderr: () => stderr, exited };
}

type Entry = { level: number; time: number; pid: number; name: string; msg: string; [key: string]: unknown };

/** The pino lines of an output (pnpm's own lines are not JSON and are left out). */
const entriesOf = (output: string): Entry[] =>
  output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Entry);

/** Waits until the service runs; returns the pids of start.ts, the API and the worker, and the API's port. */
async function running(service: Service) {
  const started = await waitFor(
    'the API and the worker to start',
    () => {
      const entries = entriesOf(service.stdout());
      const start = entries.find((e) => e.name === 'start' && e.msg === 'started api and worker');
      const listening = entries.find((e) => e.name === 'api' && typeof e.address === 'string');
      const draining = entries.find((e) => e.name === 'worker' && /worker draining/.test(e.msg));
      return start && listening && draining ? { start, listening } : undefined;
    },
    120_000,
  );
  return {
    pids: {
      start: started.start.pid,
      api: started.start.api as number,
      worker: started.start.worker as number,
    },
    port: Number(new URL(started.listening.address as string).port),
  };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** Within the shutdown timeout (and a margin for a busy machine): the port is closed and no process is left. */
async function expectAllGone(pids: Record<string, number>, port: number) {
  await waitFor(
    'every process to exit',
    () => Object.values(pids).every((pid) => !alive(pid)),
    SHUTDOWN_TIMEOUT_MS + 10_000,
  );
  expect(await portOpen(port)).toBe(false);
}

/** The API and the worker each logged a graceful shutdown (for `reason`). */
function expectGraceful(output: string, reason: RegExp) {
  for (const name of ['api', 'worker']) {
    const entry = entriesOf(output).find((e) => e.name === name && /^shutting down/.test(e.msg));
    expect(entry, `${name} shut down gracefully`).toBeDefined();
    expect(entry!.reason).toMatch(reason);
  }
}

describe('pnpm start', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv({ PORT: '0', LOG_LEVEL: 'info' });
  });
  afterAll(() => env.cleanup());

  it('writes one JSON log line per event from every process, untouched, when stdout is not a terminal', async () => {
    const service = launch(process.execPath, ['scripts/start.ts'], env.childEnv);
    let started: Awaited<ReturnType<typeof running>> | undefined;
    try {
      started = await running(service);
    } finally {
      service.process.kill('SIGTERM');
    }
    expect(await service.exited).toBe(0);
    await expectAllGone(started.pids, started.port);
    expectGraceful(service.stdout(), /SIGTERM/);
    const lines = service.stdout().split('\n').filter(Boolean);
    const entries = lines.map((line) => {
      expect(() => JSON.parse(line), line).not.toThrow();
      return JSON.parse(line) as { level: number; time: number; name: string; msg: string };
    });
    for (const entry of entries) {
      expect(entry).toMatchObject({
        level: expect.any(Number),
        time: expect.any(Number),
        msg: expect.any(String),
      });
    }
    expect(new Set(entries.map((e) => e.name))).toEqual(new Set(['migrate', 'start', 'api', 'worker']));
    expect(service.stderr()).toBe('');
  }, 180_000);

  it('kill <pid of pnpm start>: API and worker stop gracefully, the port closes, no process is left', async () => {
    // The outermost process, as a supervisor or `pnpm start &` then `kill %1` sees it. pnpm
    // does not pass the signal on: start.ts notices that its parent is gone.
    const service = launch('pnpm', ['start'], env.childEnv);
    const { pids, port } = await running(service).catch((err) => {
      service.process.kill('SIGKILL');
      throw err;
    });
    expect(await portOpen(port)).toBe(true);
    service.process.kill('SIGTERM');
    await expectAllGone(pids, port);
    expectGraceful(service.stdout(), /SIGTERM/);
  }, 180_000);

  it('start.ts killed outright (SIGKILL): API and worker stop by themselves, gracefully', async () => {
    const service = launch(process.execPath, ['scripts/start.ts'], env.childEnv);
    const { pids, port } = await running(service).catch((err) => {
      service.process.kill('SIGKILL');
      throw err;
    });
    service.process.kill('SIGKILL');
    await expectAllGone(pids, port);
    expectGraceful(service.stdout(), /parent process gone/);
  }, 180_000);
});

describe('the terminal view of the log (scripts/pretty-log.ts)', () => {
  it('shows time, level, process and message, and the other fields', () => {
    const line = JSON.stringify({
      level: 40,
      time: Date.UTC(2026, 0, 1, 12, 30, 5, 7),
      pid: 1,
      hostname: 'h',
      name: 'worker',
      msg: 'job failed',
      queue: 'q',
    });
    expect(prettyLine(line, false)).toBe('12:30:05.007 WARN  [worker] job failed {"queue":"q"}');
  });

  it('passes anything else through as it is', () => {
    expect(prettyLine('plain text', false)).toBe('plain text');
    expect(prettyLine('{"not":"pino"}', false)).toBe('{"not":"pino"}');
  });
});
