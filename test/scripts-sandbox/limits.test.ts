import { checkLimits, createSandbox, type Sandbox } from '../../scripts-sandbox';
import { expectFailure, expectSuccess, reservationEvent } from './fixtures';

const busyFor = (ms: number): string => `const end = Date.now() + ${ms}; while (Date.now() < end) {} return 'done';`;
/** Keeps `mb` megabytes reachable, in 1 MB double arrays. */
const retain = (mb: number): string => `const kept = []; for (let i = 0; i < ${mb}; i++) kept.push(new Array(131072).fill(i + 0.5)); return kept.length;`;

describe('script sandbox limits', () => {
  let sandbox: Sandbox;
  beforeAll(() => {
    sandbox = createSandbox();
  });
  afterAll(() => sandbox.dispose());

  const run = (code: string, limits?: { timeoutMs?: number; memoryMb?: number }) => sandbox.run({ code, input: reservationEvent(5000), limits });

  describe('wall time', () => {
    it('lets a script finish well within its timeout', async () => {
      expect(expectSuccess(await run(busyFor(30), { timeoutMs: 400 })).output).toBe('done');
    });

    it('stops a synchronous script that runs past its timeout', async () => {
      const error = expectFailure(await run(busyFor(5_000), { timeoutMs: 150 })).error;
      expect(error).toEqual({ code: 'script_timeout', message: 'the script ran longer than 150 ms' });
    });

    it('counts time spent in awaits and microtasks', async () => {
      const error = expectFailure(await run('const end = Date.now() + 5000; while (Date.now() < end) await null; return 1;', { timeoutMs: 150 })).error;
      expect(error.code).toBe('script_timeout');
    });

    it('applies the default of 1,000 ms when the task sets none', async () => {
      expect(expectSuccess(await run(busyFor(100))).output).toBe('done');
      expect(expectFailure(await run(busyFor(5_000))).error).toEqual({ code: 'script_timeout', message: 'the script ran longer than 1000 ms' });
    });
  });

  describe('memory', () => {
    it('lets a script keep half of its memory limit', async () => {
      expect(expectSuccess(await run(retain(32), { memoryMb: 64 })).output).toBe(32);
    });

    it('stops a script that keeps twice its memory limit', async () => {
      const error = expectFailure(await run(retain(128), { memoryMb: 64 })).error;
      expect(error).toEqual({ code: 'script_memory_limit', message: 'the script used more than its 64 MB memory limit' });
    });

    it('honours a task asking for more memory, and one asking for less', async () => {
      expect(expectSuccess(await run(retain(64), { memoryMb: 128 })).output).toBe(64);
      expect(expectFailure(await run(retain(64), { memoryMb: 32 })).error.code).toBe('script_memory_limit');
    });
  });

  describe('code size', () => {
    const codeOfBytes = (bytes: number): string => 'return 1;//' + 'x'.repeat(bytes - 11);

    it('accepts code of exactly 64 KB', async () => {
      const code = codeOfBytes(65_536);
      expect(Buffer.byteLength(code)).toBe(65_536);
      expect(expectSuccess(await run(code)).output).toBe(1);
      expect(sandbox.checkSyntax(code)).toBeNull();
    });

    it('refuses code one byte over 64 KB, counting UTF-8 bytes', async () => {
      const code = 'return 1;//' + 'é'.repeat(32_762) + 'xx';
      expect(code.length).toBeLessThan(65_536);
      expect(Buffer.byteLength(code)).toBe(65_537);
      const error = expectFailure(await run(code)).error;
      expect(error).toEqual({ code: 'script_code_too_large', message: 'code is 65537 bytes; the limit is 65536 bytes' });
      expect(sandbox.checkSyntax(code)?.code).toBe('script_code_too_large');
    });
  });

  describe('output size', () => {
    it('accepts output of exactly 256 KB as JSON', async () => {
      const result = expectSuccess(await run('return "x".repeat(262142);'));
      expect(JSON.stringify(result.output)).toHaveLength(262_144);
    });

    it('refuses output one byte over 256 KB as JSON, counting UTF-8 bytes', async () => {
      const error = expectFailure(await run('return "x".repeat(262141) + "é";')).error;
      expect(error).toEqual({ code: 'script_output_too_large', message: 'output is larger than 262144 bytes as JSON', path: 'output' });
    });

    it('refuses output with more values than could fit, without walking all of them', async () => {
      const error = expectFailure(await run('let a = [0]; for (let i = 0; i < 60; i++) a = [a, a]; return a;')).error;
      expect(error.code).toBe('script_output_too_large');
    });
  });

  describe('logs', () => {
    it('keeps 200 lines without a marker', async () => {
      const result = expectSuccess(await run('for (let i = 0; i < 200; i++) console.log(i);'));
      expect(result.logs).toHaveLength(200);
      expect(result.logs[199]).toBe('199');
    });

    it('keeps the first 200 lines and marks the rest as truncated', async () => {
      const result = expectSuccess(await run('for (let i = 0; i < 201; i++) console.log(i);'));
      expect(result.logs).toHaveLength(201);
      expect(result.logs[199]).toBe('199');
      expect(result.logs[200]).toBe('[logs truncated: 1 line(s) dropped or cut at 200 lines / 16384 bytes]');
    });

    it('keeps 16 KB of log text without a marker', async () => {
      const result = expectSuccess(await run('for (let i = 0; i < 16; i++) console.log("x".repeat(1024));'));
      expect(result.logs.join('')).toHaveLength(16_384);
      expect(result.logs).toHaveLength(16);
    });

    it('cuts log text one byte over 16 KB and marks it', async () => {
      const result = expectSuccess(await run('for (let i = 0; i < 16; i++) console.log("x".repeat(1024)); console.log("y");'));
      expect(result.logs).toHaveLength(17);
      expect(result.logs[16]).toMatch(/^\[logs truncated: 1 line/);
    });
  });

  describe('checkLimits', () => {
    it('accepts limits up to the default maximums of 10,000 ms and 256 MB', () => {
      expect(checkLimits({ timeoutMs: 10_000, memoryMb: 256 })).toEqual([]);
      expect(checkLimits({})).toEqual([]);
    });

    it('names each limit just over the default maximums', () => {
      expect(checkLimits({ timeoutMs: 10_001, memoryMb: 257 })).toEqual([
        { path: 'timeoutMs', message: 'timeoutMs must be an integer from 1 to 10000 ms' },
        { path: 'memoryMb', message: 'memoryMb must be an integer from 16 to 256 MB' },
      ]);
    });

    it('refuses limits below the minimums and non-integers', () => {
      expect(checkLimits({ timeoutMs: 0, memoryMb: 15 }).map((p) => p.path)).toEqual(['timeoutMs', 'memoryMb']);
      expect(checkLimits({ timeoutMs: 1.5 }).map((p) => p.path)).toEqual(['timeoutMs']);
      expect(checkLimits({ timeoutMs: 1, memoryMb: 16 })).toEqual([]);
    });

    it('follows the maximums the server configures', () => {
      const options = { maxTimeoutMs: 5_000, maxMemoryMb: 128 };
      expect(checkLimits({ timeoutMs: 5_000, memoryMb: 128 }, options)).toEqual([]);
      expect(checkLimits({ timeoutMs: 5_001, memoryMb: 129 }, options).map((p) => p.path)).toEqual(['timeoutMs', 'memoryMb']);
    });

    it('makes run refuse limits that checkLimits refuses, as a caller bug', async () => {
      await expect(run('return 1;', { timeoutMs: 10_001 })).rejects.toThrow(RangeError);
    });
  });
});
