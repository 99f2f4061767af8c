import { ApplicationFailure } from '@temporalio/activity';
import { toActivityFailure } from '../../tasks/activities';
import { scriptKind } from '../../tasks/script';
import { createChildSandbox, createSandbox, SandboxBusyError, SandboxStartError, type Sandbox, type ScriptResult } from '../../scripts-sandbox';
import { expectFailure, expectSuccess } from './fixtures';

const input = { event: {} };
const spinForever = 'while (true) {}';
const spinFor = (ms: number): string => `const end = Date.now() + ${ms}; while (Date.now() < end) {} return 'done';`;

/** Runs a script and records, in `finished`, the label once its result is in. */
function track(sandbox: Sandbox, finished: string[], label: string, code: string, timeoutMs?: number): Promise<ScriptResult> {
  return sandbox.run({ code, input, ...(timeoutMs !== undefined ? { limits: { timeoutMs } } : {}) }).then((result) => {
    finished.push(label);
    return result;
  });
}

describe('sandbox fairness', () => {
  it('runs an innocent script on the first process to free up, not behind a spinning one', async () => {
    const sandbox = createSandbox({ processes: 2 });
    try {
      const finished: string[] = [];
      const hostile = track(sandbox, finished, 'hostile', spinForever, 4_000);
      const short = track(sandbox, finished, 'short', spinFor(300), 5_000);
      const innocent = track(sandbox, finished, 'innocent', 'return 1;');
      const [hostileResult, , innocentResult] = await Promise.all([hostile, short, innocent]);

      expect(finished).toEqual(['short', 'innocent', 'hostile']);
      expect(expectFailure(hostileResult).error.code).toBe('script_timeout');
      const done = expectSuccess(innocentResult);
      expect(done.output).toBe(1);
      // It waited for the short script's process; its own run took a fraction of that.
      expect(done.queueMs).toBeGreaterThan(done.durationMs);
    } finally {
      sandbox.dispose();
    }
  });

  describe.each([
    ['the pool', () => createSandbox({ processes: 1, queueLimit: 1 })],
    ['one child process', () => createChildSandbox({ queueLimit: 1 })],
  ])('queue bound of %s', (_name, create) => {
    it('accepts runs up to the bound, refuses the next with sandbox_busy, and serves again once the queue drains', async () => {
      const sandbox = create();
      try {
        const running = sandbox.run({ code: spinFor(500), input, limits: { timeoutMs: 5_000 } });
        const waiting = sandbox.run({ code: 'return "waited";', input });
        const refused = await sandbox.run({ code: 'return "refused";', input }).catch((error: unknown) => error);

        expect(refused).toBeInstanceOf(SandboxBusyError);
        expect(refused).toMatchObject({ code: 'sandbox_busy', retryable: true, retryAfterSeconds: 10 });
        expect(expectSuccess(await running).output).toBe('done');
        expect(expectSuccess(await waiting).output).toBe('waited');
        expect(expectSuccess(await sandbox.run({ code: 'return "again";', input })).output).toBe('again');
      } finally {
        sandbox.dispose();
      }
    });
  });

  describe('cold start', () => {
    it('does not count a slow boot against the script: the boot is queue wait, not run time', async () => {
      const sandbox = createChildSandbox({ bootDelayMs: 3_000 });
      try {
        const result = expectSuccess(await sandbox.run({ code: 'return 1;', input, limits: { timeoutMs: 50 } }));
        expect(result.output).toBe(1);
        expect(result.queueMs).toBeGreaterThan(result.durationMs);
      } finally {
        sandbox.dispose();
      }
    });

    it('fails a boot past its start budget with a retryable sandbox error, never script_timeout', async () => {
      const sandbox = createChildSandbox({ bootDelayMs: 60_000, startTimeoutMs: 200 });
      try {
        const error = await sandbox.run({ code: 'return 1;', input }).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(SandboxStartError);
        expect(error).toMatchObject({ code: 'sandbox_start_failed', retryable: true });
      } finally {
        sandbox.dispose();
      }
    });
  });

  it('refuses a queue bound beyond 64', () => {
    expect(() => createSandbox({ queueLimit: 65 })).toThrow(/queueLimit/);
    expect(() => createSandbox({ queueLimit: 0 })).toThrow(/queueLimit/);
  });
});

describe('a script task on a busy sandbox', () => {
  it('fails retryably, so Temporal tries again later, unlike the script\'s own errors', async () => {
    const busy = { run: () => Promise.reject(new SandboxBusyError(10, 4)) } as unknown as Sandbox;
    const failure = await scriptKind.execute({ code: 'return 1;', input, limits: {} }, { sandbox: busy } as never, undefined as never, undefined as never).catch(toActivityFailure);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'sandbox_busy', nonRetryable: false });
    expect(scriptKind.execution).toMatchObject({ retry: { nonRetryableErrorTypes: expect.not.arrayContaining(['sandbox_busy', 'sandbox_start_failed']) } });
  });
});
