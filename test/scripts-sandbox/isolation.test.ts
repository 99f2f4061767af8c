import { createSandbox, SandboxDisposedError, type Sandbox } from '../../scripts-sandbox';
import { DOCUMENTED_SCRIPT, expectFailure, expectSuccess, reservationEvent } from './fixtures';

/** Walks everything a script can reach from the global object and the hidden intrinsics, listing what is not frozen. */
const FIND_UNFROZEN = `
  const protoOf = Object.getPrototypeOf;
  const segments = new Intl.Segmenter().segment('a');
  const pending = [globalThis, protoOf(async function () {}), protoOf(function* () {}), protoOf(async function* () {}),
    protoOf(protoOf((async function* () {})())), protoOf(protoOf((function* () {})())), protoOf([][Symbol.iterator]()),
    protoOf(new Map().entries()), protoOf(new Set().values()), protoOf(''[Symbol.iterator]()), protoOf(/a/g[Symbol.matchAll]('a')),
    protoOf(Iterator.from({ next() { return { done: true }; } })), protoOf([].values().map((x) => x)),
    protoOf(segments), protoOf(segments[Symbol.iterator]()), protoOf(Uint8Array)];
  const seen = new Set();
  const unfrozen = [];
  while (pending.length > 0) {
    const value = pending.pop();
    if ((typeof value !== 'object' || value === null) && typeof value !== 'function') continue;
    if (seen.has(value)) continue;
    seen.add(value);
    if (!Object.isFrozen(value)) unfrozen.push(typeof value === 'function' ? value.name : Object.prototype.toString.call(value));
    pending.push(protoOf(value));
    for (const key of Reflect.ownKeys(value)) {
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if ('value' in descriptor) pending.push(descriptor.value); else pending.push(descriptor.get, descriptor.set);
    }
  }
  return { reachable: seen.size, unfrozen };
`;

describe('script sandbox isolation between runs', () => {
  let sandbox: Sandbox;
  beforeAll(() => {
    // Room for 40 runs at once: these tests are about isolation, not the queue bound (fairness.test.ts).
    sandbox = createSandbox({ queueLimit: 20 });
  });
  afterAll(() => sandbox.dispose());

  const run = (code: string) => sandbox.run({ code, input: reservationEvent(5000) });

  it('freezes every object a script can reach', async () => {
    const { reachable, unfrozen } = expectSuccess(await run(FIND_UNFROZEN)).output as { reachable: number; unfrozen: string[] };
    expect(unfrozen).toEqual([]);
    expect(reachable).toBeGreaterThan(500);
  });

  it('does not let a global set by one run be seen by the next run of the same script', async () => {
    const code = 'const seen = typeof globalThis.shared; try { globalThis.shared = reservation.price_int; } catch (e) { return [seen, e.name]; } return [seen, "set"];';
    expect(expectSuccess(await run(code)).output).toEqual(['undefined', 'TypeError']);
    expect(expectSuccess(await run(code)).output).toEqual(['undefined', 'TypeError']);
  });

  it('does not let a run change built-ins that later runs use', async () => {
    const attempts = [
      'Array.prototype.map = () => "evil"', 'Object.prototype.polluted = 1', 'Math.trunc = () => 0', 'JSON.stringify = () => ""',
      'Object.prototype.toString = () => "evil"', 'Promise.prototype.then = () => 1', 'Error.prepareStackTrace = () => "evil"',
      'Object.defineProperty(Array.prototype, "evil", { get() { return 1; } })', 'Object.setPrototypeOf(Object.prototype, {})',
      'delete Array.prototype.push', 'Object.getPrototypeOf(async function () {}).constructor.evil = 1',
      'Object.getPrototypeOf([][Symbol.iterator]()).next = () => ({ done: true })',
    ];
    for (const attempt of attempts) {
      expect(expectFailure(await run(`${attempt};`)).error.code).toBe('script_runtime');
    }
    const check = 'return [[1, 2].map((x) => x * 2), "polluted" in {}, Math.trunc(1.5), JSON.stringify({ a: 1 }), String({}), [...[1, 2]], "evil" in []];';
    expect(expectSuccess(await run(check)).output).toEqual([[2, 4], false, 1, '{"a":1}', '[object Object]', [1, 2], false]);
  });

  it('does not leak the last regular expression match of one run to the next', async () => {
    expectSuccess(await run('/(secret-\\d+)/.exec("token secret-42"); return 1;'));
    expect(expectSuccess(await run('return [typeof RegExp.$1, typeof RegExp.lastMatch, typeof RegExp.input, typeof RegExp["$_"]];')).output)
      .toEqual(['undefined', 'undefined', 'undefined', 'undefined']);
  });

  it('offers no way to run code after the run or share memory: no weak refs, finalizers, Atomics or WebAssembly', async () => {
    const result = expectSuccess(await run('return [typeof WeakRef, typeof FinalizationRegistry, typeof Atomics, typeof SharedArrayBuffer, typeof WebAssembly];'));
    expect(result.output).toEqual(['undefined', 'undefined', 'undefined', 'undefined', 'undefined']);
  });

  it('keeps the script function unreachable from its own body', async () => {
    expect(expectFailure(await run('return arguments.callee;')).error.code).toBe('script_runtime');
  });

  it('still lets scripts override inherited properties on their own objects', async () => {
    const code = `
      class PaymentError extends Error { constructor(m) { super(m); this.name = 'PaymentError'; } }
      const money = { cents: 6000 };
      money.toString = function () { return '$' + this.cents / 100; };
      return [String(money), new PaymentError('declined').name, String(new PaymentError('x'))];`;
    expect(expectSuccess(await run(code)).output).toEqual(['$60', 'PaymentError', 'PaymentError: x']);
  });

  it('keeps concurrent runs apart and answers each with its own output', async () => {
    const prices = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 5000 : 10000));
    const results = await Promise.all(prices.map((price) => sandbox.run({ code: DOCUMENTED_SCRIPT, input: reservationEvent(price) })));
    expect(results.map((r) => (expectSuccess(r).output as { amount_cents: number }).amount_cents)).toEqual(prices.map((p) => (p === 5000 ? 6000 : 15000)));
  });

  it('does not hold other runs behind a script stalled on a promise', async () => {
    const [stalled, normal] = await Promise.all([
      sandbox.run({ code: 'await new Promise(() => {});', input: reservationEvent(5000), limits: { timeoutMs: 10_000 } }),
      sandbox.run({ code: DOCUMENTED_SCRIPT, input: reservationEvent(5000) }),
    ]);
    expect(expectFailure(stalled).error).toEqual({ code: 'script_timeout', message: 'the script awaited a promise that can never settle (nothing outside the script can resolve it)' });
    expect(expectSuccess(normal).output).toEqual({ amount_cents: 6000, vars: { DOLLARS: '$60' } });
    expect(stalled.durationMs).toBeLessThan(10_000);
  });

  it('serves runs queued behind a script that times out', async () => {
    const [looping, normal] = await Promise.all([
      sandbox.run({ code: 'for (;;) {}', input: reservationEvent(5000), limits: { timeoutMs: 100 } }),
      sandbox.run({ code: DOCUMENTED_SCRIPT, input: reservationEvent(10000) }),
    ]);
    expect(expectFailure(looping).error.code).toBe('script_timeout');
    expect(expectSuccess(normal).output).toEqual({ amount_cents: 15000, vars: { DOLLARS: '$150' } });
  });

  it('keeps working across isolate recycling', async () => {
    const recycling = createSandbox({ maxRunsPerIsolate: 2 });
    try {
      for (let i = 0; i < 7; i++) {
        const result = expectSuccess(await recycling.run({ code: 'const before = typeof globalThis.x; return [before, reservation.price_int];', input: reservationEvent(5000 + i) }));
        expect(result.output).toEqual(['undefined', 5000 + i]);
      }
    } finally {
      recycling.dispose();
    }
  });

  it('refuses runs after dispose and fails runs in flight', async () => {
    const disposable = createSandbox();
    const inFlight = disposable.run({ code: 'for (;;) {}', input: reservationEvent(5000) });
    // In flight: handed to a child process, which starts for it.
    for (const deadline = Date.now() + 5_000; disposable.childPids().length === 0; await new Promise((resolve) => setImmediate(resolve))) {
      if (Date.now() > deadline) throw new Error('the run never reached a sandbox process');
    }
    disposable.dispose();
    await expect(inFlight).rejects.toThrow(SandboxDisposedError);
    await expect(disposable.run({ code: 'return 1;', input: reservationEvent(5000) })).rejects.toThrow(SandboxDisposedError);
  });
});
