import { createSandbox } from '../../scripts-sandbox';

describe('the sandbox pool', () => {
  it('runs a quick script while a slow one is still running', async () => {
    const sandbox = createSandbox({ processes: 2 });
    try {
      const finished: string[] = [];
      const slow = sandbox.run({ code: 'const end = Date.now() + 1500; while (Date.now() < end) {} return "slow";', input: { event: {} }, limits: { timeoutMs: 5000 } }).then((r) => finished.push(r.ok ? String(r.output) : r.error.code));
      const quick = sandbox.run({ code: 'return "quick";', input: { event: {} } }).then((r) => finished.push(r.ok ? String(r.output) : r.error.code));
      await Promise.all([slow, quick]);
      expect(finished).toEqual(['quick', 'slow']);
    } finally {
      sandbox.dispose();
    }
  });

  it('names the child processes alive now, and a replacement by its own pid', async () => {
    const sandbox = createSandbox({ processes: 2 });
    try {
      expect(sandbox.childPids()).toEqual([]);
      await sandbox.run({ code: 'return 1;', input: { event: {} } });
      const [first, ...others] = sandbox.childPids();
      expect(others).toEqual([]);
      expect(process.kill(first!, 0)).toBe(true);
      // A builtin isolated-vm cannot stop gets its child killed and replaced.
      const crashed = await sandbox.run({ code: 'new Array(2 ** 31).fill(1); return 1;', input: { event: {} }, limits: { timeoutMs: 300 } });
      expect(crashed.ok).toBe(false);
      await sandbox.run({ code: 'return 1;', input: { event: {} } });
      const [second] = sandbox.childPids();
      expect(second).toBeDefined();
      expect(second).not.toBe(first);
    } finally {
      sandbox.dispose();
    }
  });

  it('refuses a pool size beyond the bound', () => {
    expect(() => createSandbox({ processes: 17 })).toThrow(/processes/);
    expect(() => createSandbox({ processes: 0 })).toThrow(/processes/);
  });
});
