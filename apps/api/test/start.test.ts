import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
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

describe('pnpm start', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv({ PORT: '0', LOG_LEVEL: 'info' });
  });
  afterAll(() => env.cleanup());

  it('writes one JSON log line per event from every process, untouched, when stdout is not a terminal', async () => {
    const service = launch(process.execPath, ['scripts/start.ts'], env.childEnv);
    try {
      await waitFor(
        'the API and the worker to start',
        () => /listening on http/.test(service.stdout()) && /worker draining/.test(service.stdout()),
        60_000,
      );
    } finally {
      service.process.kill('SIGTERM');
    }
    expect(await service.exited).toBe(0);
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
    expect(new Set(entries.map((e) => e.name))).toEqual(new Set(['migrate', 'api', 'worker']));
    expect(service.stderr()).toBe('');
  });
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
