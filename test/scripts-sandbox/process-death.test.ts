import { createSandbox, SandboxStoppedError, type ProcessSandbox, type ScriptResult } from '../../scripts-sandbox';
import { abortedByV8 } from '../../scripts-sandbox/sandbox';
import { DOCUMENTED_SCRIPT, expectFailure, expectSuccess, reservationEvent } from './fixtures';

/** A harmless script that keeps its process busy for about two seconds. */
const BUSY_TWO_SECONDS = 'const until = Date.now() + 2000; while (Date.now() < until) {} return 1;';

/** Settles `run` as a result, or as the error it was rejected with. */
async function outcomeOf(run: Promise<ScriptResult>): Promise<{ result: ScriptResult } | { error: unknown }> {
  try {
    return { result: await run };
  } catch (error) {
    return { error };
  }
}

/** The one live child process of a one-process sandbox. */
function onlyPid(sandbox: ProcessSandbox): number {
  const pids = sandbox.childPids();
  if (pids.length !== 1) throw new Error(`expected one live sandbox process, found ${pids.length}`);
  return pids[0]!;
}

/**
 * A sandbox process can die of something other than the script: the kernel's
 * OOM killer, an operator, a deploy, a chaos test. Such a death is an engine
 * condition (retryable), never `script_memory_limit`, which fails the
 * customer's run for good. Only V8 giving up on the script (a fatal error or
 * an out-of-memory abort) is the script's fault.
 */
describe('a sandbox process that dies of something other than the script', () => {
  let sandbox: ProcessSandbox;
  const catastrophic: string[] = [];
  beforeAll(() => {
    sandbox = createSandbox({ processes: 1, onCatastrophicError: (message) => catastrophic.push(message) });
  });
  afterAll(() => sandbox.dispose());
  beforeEach(() => {
    catastrophic.length = 0;
  });

  it('killed while idle, then handed a run at once: the run succeeds on a new process or fails retryably, and the next run succeeds', async () => {
    expectSuccess(await sandbox.run({ code: 'return 1;', input: reservationEvent(5000) }));
    const pid = onlyPid(sandbox);
    process.kill(pid, 'SIGKILL');
    // Handed over in the same tick, before the parent can have seen the exit.
    const outcome = await outcomeOf(sandbox.run({ code: DOCUMENTED_SCRIPT, input: reservationEvent(5000) }));
    if ('result' in outcome) {
      expect(expectSuccess(outcome.result).output).toEqual({ amount_cents: 6000, vars: { DOLLARS: '$60' } });
    } else {
      expect(outcome.error).toMatchObject({ code: 'sandbox_stopped', retryable: true });
      expect((outcome.error as Error).message).toMatch(/SIGKILL/);
    }
    expect(catastrophic).toEqual([]);
    const next = expectSuccess(await sandbox.run({ code: DOCUMENTED_SCRIPT, input: reservationEvent(10000) }));
    expect(next.output).toEqual({ amount_cents: 15000, vars: { DOLLARS: '$150' } });
    expect(sandbox.childPids()).not.toEqual([pid]);
  });

  it.each(['SIGKILL', 'SIGTERM'] as const)('killed with %s from outside during an innocent run: the run fails retryably, and the next run succeeds', async (signal) => {
    expectSuccess(await sandbox.run({ code: 'return 1;', input: reservationEvent(5000) }));
    const pid = onlyPid(sandbox);
    const running = outcomeOf(sandbox.run({ code: BUSY_TWO_SECONDS, input: reservationEvent(5000), limits: { timeoutMs: 5_000 } }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    process.kill(pid, signal);
    const outcome = await running;
    expect(outcome).not.toHaveProperty('result');
    expect((outcome as { error: unknown }).error).toBeInstanceOf(SandboxStoppedError);
    expect((outcome as { error: unknown }).error).toMatchObject({ code: 'sandbox_stopped', retryable: true });
    expect((outcome as { error: Error }).error.message).toBe(`the script sandbox process stopped before it answered the run (${signal}); the script was not at fault, retry it`);
    expect(catastrophic).toEqual([]);
    expectSuccess(await sandbox.run({ code: DOCUMENTED_SCRIPT, input: reservationEvent(5000) }));
    expect(sandbox.childPids()).not.toEqual([pid]);
  });

  it('still reports a script that makes V8 abort the process (a fatal error, SIGTRAP) as script_memory_limit, and reports it as catastrophic', async () => {
    // Splitting takes a while before V8 gives up: on a slow host more than the default second, so the
    // run may take the longest timeout there is; the abort, not the timeout, must end it.
    const result = await sandbox.run({ code: 'return "x".repeat(2 ** 28).split("").length;', input: reservationEvent(5000), limits: { timeoutMs: 10_000 } });
    expect(expectFailure(result).error).toEqual({ code: 'script_memory_limit', message: 'the script crashed the sandbox process (V8 ran out of memory beyond the isolate limit)' });
    expect(catastrophic).toEqual(['the sandbox process exited during a run (SIGTRAP)']);
    expectSuccess(await sandbox.run({ code: DOCUMENTED_SCRIPT, input: reservationEvent(5000) }));
  });
});

describe('telling V8 aborting a sandbox process from any other end', () => {
  it.each([
    [null, 'SIGABRT', true], // isolated-vm's or Node's out-of-memory handler calls abort()
    [null, 'SIGTRAP', true], // a V8 fatal error ("invalid size error")
    [134, null, true], // SIGABRT reported through a shell
    [133, null, true], // SIGTRAP reported through a shell
    [null, 'SIGKILL', false], // the kernel's OOM killer, an operator, the parent
    [null, 'SIGTERM', false],
    [null, 'SIGSEGV', false],
    [0, null, false], // the channel closed, or the parent went away
    [1, null, false],
    [70, null, false], // the child's watchdog thread failed
    [null, null, false],
  ] as const)('exit code %p, signal %p: %p', (exitCode, signal, aborted) => {
    expect(abortedByV8(exitCode, signal)).toBe(aborted);
  });
});
