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

  it('refuses a pool size beyond the bound', () => {
    expect(() => createSandbox({ processes: 17 })).toThrow(/processes/);
    expect(() => createSandbox({ processes: 0 })).toThrow(/processes/);
  });
});
