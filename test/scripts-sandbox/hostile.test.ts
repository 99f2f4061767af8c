import { readFileSync } from 'node:fs';
import { createSandbox, type ProcessSandbox, type ScriptErrorCode } from '../../scripts-sandbox';
import { DOCUMENTED_SCRIPT, expectFailure, expectSuccess, reservationEvent } from './fixtures';

/**
 * The resident memory of a sandbox child process, in MB, from Linux's
 * /proc. Scripts run in the children, so the test process's own memory
 * says nothing about what a script left behind.
 */
function childRssMb(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match === null) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

/**
 * A fresh run's view of the shared realm: the own properties of the global
 * object and the prototypes every script leans on, each with what it holds
 * (a native or a script-made function, another value, an accessor), and
 * whether they are still frozen. Any change a hostile script managed to make
 * to the isolate shows up here in the next run on the same isolate.
 */
const PROBE_REALM = `
  const toSource = Function.prototype.toString;
  const kind = (value) => typeof value !== 'function' ? typeof value
    : Reflect.apply(toSource, value, []).endsWith('{ [native code] }') ? 'native' : 'script function';
  const shape = (target) => Reflect.ownKeys(target).map((key) => {
    const descriptor = Object.getOwnPropertyDescriptor(target, key);
    const holds = 'value' in descriptor ? kind(descriptor.value) : 'accessor ' + kind(descriptor.get) + '/' + kind(descriptor.set);
    return String(key) + ': ' + holds;
  }).sort();
  const targets = { global: globalThis, object: Object.prototype, array: Array.prototype, function: Function.prototype, promise: Promise.prototype };
  return Object.fromEntries(Object.entries(targets).map(([name, target]) => [name, { frozen: Object.isFrozen(target), properties: shape(target) }]));
`;

interface HostileCase {
  name: string;
  code: string;
  /** The error code the run must fail with; omitted when the run may succeed harmlessly. */
  code_: ScriptErrorCode | 'ok';
  /** Checks the output when the run succeeds. */
  output?: unknown;
  timeoutMs?: number;
}

const CASES: HostileCase[] = [
  // Time
  { name: 'a synchronous infinite loop', code: 'for (;;) {}', code_: 'script_timeout', timeoutMs: 100 },
  { name: 'awaiting a promise that never settles', code: 'await new Promise(() => {});', code_: 'script_timeout' },
  { name: 'an endless chain of awaits', code: 'for (;;) await null;', code_: 'script_timeout', timeoutMs: 100 },
  { name: 'a microtask loop left running after return', code: '(function again() { Promise.resolve().then(again); })(); return 1;', code_: 'script_timeout', timeoutMs: 100 },
  { name: 'catastrophic regular expression backtracking', code: 'return /^(a+)+$/.test("a".repeat(40) + "b");', code_: 'script_timeout', timeoutMs: 100 },
  // Memory
  { name: 'a growing array of objects', code: 'const a = []; for (;;) a.push({ i: a.length });', code_: 'script_memory_limit', timeoutMs: 5_000 },
  { name: 'a huge flat string', code: 'return "x".repeat(2e8).toUpperCase().length;', code_: 'script_memory_limit', timeoutMs: 5_000 },
  { name: 'a 1 GB ArrayBuffer', code: 'return new ArrayBuffer(1e9).byteLength;', code_: 'script_runtime' },
  { name: 'many retained typed arrays', code: 'const a = []; for (;;) a.push(new Uint8Array(1e6));', code_: 'script_runtime' },
  // Builtins isolated-vm cannot interrupt or bound: the child process hosting
  // the isolates is abandoned or crashes, and the worker only sees the code.
  { name: 'filling a 2^31-element sparse array', code: 'new Array(2 ** 31).fill(1); return 1;', code_: 'script_timeout', timeoutMs: 300 },
  { name: 'Array.from with a 2^31 length', code: 'return Array.from({ length: 2 ** 31 }).length;', code_: 'script_timeout', timeoutMs: 300 },
  { name: 'splitting a 256 MB string into characters', code: 'return "x".repeat(2 ** 28).split("").length;', code_: 'script_memory_limit' },
  { name: 'unbounded recursion', code: 'function down(n) { return down(n + 1) + 1; } return down(0);', code_: 'script_runtime' },
  // Escapes: every route must end in this isolate's frozen realm.
  { name: 'this.constructor.constructor', code: 'return this.constructor.constructor("return process")();', code_: 'script_runtime' },
  { name: 'climbing from the input to Function', code: 'return event.constructor.constructor("return typeof process + typeof require")();', code_: 'ok', output: 'undefinedundefined' },
  { name: 'climbing from console to Function', code: 'return console.log.constructor("return typeof process")();', code_: 'ok', output: 'undefined' },
  { name: 'a sloppy function returning the global', code: 'const g = Function("return this")(); return [typeof g.process, typeof g.require, typeof g.module, typeof g.setTimeout];', code_: 'ok', output: ['undefined', 'undefined', 'undefined', 'undefined'] },
  { name: 'dynamic import', code: 'return await import("node:fs");', code_: 'script_runtime' },
  { name: 'require', code: 'return require("fs");', code_: 'script_runtime' },
  { name: 'indirect eval declaring a global', code: '(0, eval)("var leaked = 1"); return leaked;', code_: 'script_runtime' },
  { name: 'code closing the wrapper early', code: '}); globalThis.escaped = true; (async function () {', code_: 'script_syntax' },
  // Changes to the shared realm, their errors swallowed so that the run
  // succeeds: only the realm probe after the run can tell whether they held.
  { name: 'polluting Object.prototype', code: 'try { Object.prototype.polluted = true; } catch {} try { Object.defineProperty(Object.prototype, "polluted", { value: true }); } catch {} return 1;', code_: 'ok', output: 1 },
  { name: 'polluting Object.prototype through __proto__', code: 'try { ({}).__proto__.polluted = true; } catch {} try { Object.setPrototypeOf(Object.prototype, { polluted: true }); } catch {} return 1;', code_: 'ok', output: 1 },
  { name: 'replacing a built-in method', code: 'try { Array.prototype.map = function () { return []; }; } catch {} try { Promise.prototype.then = function () {}; } catch {} return 1;', code_: 'ok', output: 1 },
  { name: 'declaring a global from sloppy code', code: 'try { Function("leaked = 1")(); } catch {} try { (0, eval)("var leaked2 = 1"); } catch {} return 1;', code_: 'ok', output: 1 },
  { name: 'stack trace hooks', code: 'Error.prepareStackTrace = (e, frames) => frames; return new Error().stack;', code_: 'script_runtime' },
  { name: 'host timers and I/O', code: 'return [typeof setTimeout, typeof setImmediate, typeof queueMicrotask, typeof fetch, typeof process, typeof Buffer];', code_: 'ok', output: ['undefined', 'undefined', 'undefined', 'undefined', 'undefined', 'undefined'] },
  // Output
  { name: 'prototype pollution through __proto__', code: 'return JSON.parse(\'{"vars": {"__proto__": {"polluted": true}}}\');', code_: 'script_output_invalid' },
  { name: 'prototype pollution through a computed __proto__ key', code: 'return { ["__proto__"]: { polluted: true } };', code_: 'script_output_invalid' },
  { name: 'prototype pollution through constructor.prototype', code: 'return { constructor: { prototype: { polluted: true } } };', code_: 'script_output_invalid' },
  { name: 'a getter', code: 'return { get amount_cents() { return 6000; } };', code_: 'script_output_invalid' },
  { name: 'a getter that throws', code: 'return { get amount_cents() { throw new Error("no"); } };', code_: 'script_output_invalid' },
  { name: 'a Proxy whose traps throw', code: 'return { p: new Proxy({}, { ownKeys() { throw new Error("trap"); }, get() { throw new Error("trap"); } }) };', code_: 'script_output_invalid' },
  { name: 'returning a Proxy whose get trap throws on then', code: 'return new Proxy({}, { get() { throw new Error("trap"); } });', code_: 'script_runtime' },
  { name: 'a revoked Proxy', code: 'const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); return { proxy };', code_: 'script_output_invalid' },
  { name: 'a cycle', code: 'const a = []; a.push({ a }); return a;', code_: 'script_output_invalid' },
  { name: 'a function', code: 'return { f() {} };', code_: 'script_output_invalid' },
  { name: 'a toJSON method', code: 'return { toJSON() { return 1; } };', code_: 'script_output_invalid' },
  { name: 'a symbol', code: 'return Symbol("s");', code_: 'script_output_invalid' },
  { name: 'a symbol key', code: 'return { [Symbol("s")]: 1 };', code_: 'script_output_invalid' },
  { name: 'a BigInt', code: 'return { amount_cents: 6000n };', code_: 'script_output_invalid' },
  { name: 'NaN', code: 'return { amount_cents: NaN };', code_: 'script_output_invalid' },
  { name: 'Infinity', code: 'return [1 / 0];', code_: 'script_output_invalid' },
  { name: 'a class instance', code: 'class Money { constructor() { this.cents = 1; } } return new Money();', code_: 'script_output_invalid' },
  { name: 'a Date', code: 'return { at: new Date(0) };', code_: 'script_output_invalid' },
  { name: 'a Map', code: 'return new Map([[1, 2]]);', code_: 'script_output_invalid' },
  { name: 'a typed array', code: 'return new Uint8Array(2);', code_: 'script_output_invalid' },
  { name: 'a non-enumerable property', code: 'return Object.defineProperty({}, "hidden", { value: 1 });', code_: 'script_output_invalid' },
  { name: 'nesting deeper than 256 levels', code: 'let o = {}; for (let i = 0; i < 10000; i++) o = { o }; return o;', code_: 'script_output_invalid' },
  { name: 'a DAG that would explode when serialised', code: 'let a = [1]; for (let i = 0; i < 64; i++) a = [a, a]; return a;', code_: 'script_output_too_large' },
  // Throws
  { name: 'throwing a string', code: 'throw "boom";', code_: 'script_runtime' },
  { name: 'throwing undefined', code: 'throw undefined;', code_: 'script_runtime' },
  { name: 'throwing a Proxy', code: 'throw new Proxy({}, { get() { throw new Error("trap"); }, getPrototypeOf() { throw new Error("trap"); } });', code_: 'script_runtime' },
  { name: 'throwing an Error whose getters throw', code: 'const e = new Error("x"); Object.defineProperty(e, "message", { get() { throw 1; } }); throw e;', code_: 'script_runtime' },
  { name: 'throwing an object whose toString throws', code: 'throw { toString() { throw new Error("no"); } };', code_: 'script_runtime' },
  // Floods
  { name: 'flooding console.log', code: 'for (let i = 0; i < 1e5; i++) console.log("line", i, { i }); return 1;', code_: 'ok', output: 1 },
  { name: 'logging forever', code: 'for (;;) console.log("x".repeat(1000));', code_: 'script_timeout', timeoutMs: 100 },
  { name: 'logging a value with a throwing getter', code: 'console.log({ get x() { throw new Error("no"); } }); return 1;', code_: 'ok', output: 1 },
  { name: 'very large code', code: `return 1;\n${'// padding\n'.repeat(100_000)}`, code_: 'script_code_too_large' },
];

describe('script sandbox against hostile code', () => {
  let sandbox: ProcessSandbox;
  let realmBefore: unknown;
  let baselineRssMb = 0;

  /** The pid of the one child process, which runs every script of this suite unless one crashes it. */
  const childPid = (): number => {
    const pids = sandbox.childPids();
    if (pids.length !== 1) throw new Error(`expected one live sandbox process, found ${pids.length}`);
    return pids[0]!;
  };

  beforeAll(async () => {
    // One process, so the realm probe and the memory reading observe the
    // process (and, unless it was retired, the isolate) that ran the case.
    sandbox = createSandbox({ processes: 1 });
    // Warm up the isolate and the compiler before taking the memory baseline.
    for (let i = 0; i < 50; i++) expectSuccess(await sandbox.run({ code: DOCUMENTED_SCRIPT, input: reservationEvent(5000) }));
    realmBefore = expectSuccess(await sandbox.run({ code: PROBE_REALM, input: reservationEvent(5000) })).output;
    baselineRssMb = childRssMb(childPid());
  });
  afterAll(() => sandbox.dispose());

  it('probes a realm that is frozen to begin with', () => {
    // Otherwise comparing with this snapshot would prove nothing.
    expect(Object.values(realmBefore as Record<string, { frozen: boolean }>).map(({ frozen }) => frozen)).toEqual([true, true, true, true, true]);
  });

  it.each(CASES)('survives $name, leaves the realm and memory of its process as they were, and still serves the documented script', async ({ code, code_, output, timeoutMs }) => {
    const result = await sandbox.run({ code, input: reservationEvent(5000), limits: timeoutMs === undefined ? undefined : { timeoutMs } });
    if (code_ === 'ok') {
      expect(expectSuccess(result).output).toEqual(output);
    } else {
      expect(expectFailure(result).error.code).toBe(code_);
    }
    expect(result.logs.length).toBeLessThanOrEqual(201);
    // The same isolate serves the probe unless the case got it retired.
    expect(expectSuccess(await sandbox.run({ code: PROBE_REALM, input: reservationEvent(5000) })).output).toEqual(realmBefore);
    const next = expectSuccess(await sandbox.run({ code: DOCUMENTED_SCRIPT, input: reservationEvent(10000) }));
    expect(next.output).toEqual({ amount_cents: 15000, vars: { DOLLARS: '$150' } });
    // The process that served both runs is the one that ran the case, unless
    // the case crashed it or got it killed (then it is its replacement).
    // RSS is noisy (isolated-vm's allocations, pages V8 returns lazily), so
    // the bound is generous: a bomb's leftovers are hundreds of MB.
    expect(childRssMb(childPid()) - baselineRssMb).toBeLessThan(64);
  });
});
