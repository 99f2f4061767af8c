// This file is not a Node module: the sandbox evaluates it once inside each
// fresh isolate, before any admin code, and calls the function it evaluates
// to. It locks the realm down (frozen intrinsics, no shared mutable state) so
// that many runs can share one context safely, and returns the small
// protocol the host drives: checkBody, start and collect.
'use strict';
// eslint-disable-next-line @typescript-eslint/no-unused-expressions -- the script's completion value is the bootstrap function.
(function bootstrap(configJson) {
  const config = JSON.parse(configJson);

  // Intrinsics the runtime needs, captured before admin code can run. They
  // are frozen below, but capturing them also keeps the runtime independent
  // of anything reachable through globalThis.
  const { defineProperty, freeze, getOwnPropertyDescriptor, getPrototypeOf, prototype: ObjectPrototype } = Object;
  const { apply, ownKeys } = Reflect;
  const { isArray, prototype: ArrayPrototype } = Array;
  const { stringify, parse } = JSON;
  const { isFinite } = Number;
  const StringCtor = String;
  const OriginalProxy = Proxy;
  const ErrorCtor = Error;
  const TypeErrorCtor = TypeError;
  const proxies = new WeakSet();
  const overrideGetters = new WeakSet();
  const weakSetHas = WeakSet.prototype.has;
  const weakSetAdd = WeakSet.prototype.add;
  const setHas = Set.prototype.has;
  const setAdd = Set.prototype.add;
  const setDelete = Set.prototype.delete;
  const promiseThen = Promise.prototype.then;
  const regExpExec = RegExp.prototype.exec;
  const stringSlice = String.prototype.slice;
  const stringCharCodeAt = String.prototype.charCodeAt;
  const AsyncFunction = getPrototypeOf(async function () {}).constructor;
  const SCRIPT_FILE = config.scriptFile;
  const SCRIPT_PARAMS = config.scriptParams;
  const frameLocation = new RegExp('^\\s+at (?:.* \\()?' + SCRIPT_FILE.replace(/\./g, '\\.') + ':(\\d+):(\\d+)\\)?$', 'm');

  const isProxy = (value) => apply(weakSetHas, proxies, [value]);

  // Globals that would let one run observe or outlive another: weak refs and
  // finalizers call back later, Atomics/SharedArrayBuffer/WebAssembly can
  // block, share memory or resolve promises outside the run. `console` is
  // V8's no-op console; each run gets its own capturing console instead.
  for (const name of ['WeakRef', 'FinalizationRegistry', 'Atomics', 'SharedArrayBuffer', 'WebAssembly', 'console']) {
    delete globalThis[name];
  }
  // RegExp legacy statics expose the last match of whatever code ran before,
  // which would leak one run's data into the next.
  for (const name of ['input', '$_', 'lastMatch', '$&', 'lastParen', '$+', 'leftContext', '$`', 'rightContext', "$'",
    '$1', '$2', '$3', '$4', '$5', '$6', '$7', '$8', '$9']) {
    delete RegExp[name];
  }

  // Proxies are recorded so the output check can refuse them without ever
  // calling their traps. The replacement is the only route to %Proxy%.
  const SandboxProxy = function Proxy(target, handler) {
    if (new.target === undefined) throw new TypeErrorCtor("Constructor Proxy requires 'new'");
    const proxy = new OriginalProxy(target, handler);
    apply(weakSetAdd, proxies, [proxy]);
    return proxy;
  };
  const originalRevocable = OriginalProxy.revocable;
  defineProperty(SandboxProxy, 'revocable', {
    value: function revocable(target, handler) {
      const result = originalRevocable(target, handler);
      apply(weakSetAdd, proxies, [result.proxy]);
      return result;
    },
    writable: true, enumerable: false, configurable: true,
  });
  defineProperty(globalThis, 'Proxy', { value: SandboxProxy, writable: true, enumerable: false, configurable: true });

  // With frozen prototypes, `this.name = 'MyError'` or `obj.toString = fn`
  // would throw (the "override mistake"). These commonly overridden
  // properties become accessors whose setter defines an own property on the
  // receiver instead, while the prototype itself stays immutable.
  const enableOverride = (object, key) => {
    const descriptor = getOwnPropertyDescriptor(object, key);
    if (descriptor === undefined || !('value' in descriptor)) return;
    const value = descriptor.value;
    const accessors = {
      get() { return value; },
      set(newValue) {
        if (this === object) throw new TypeErrorCtor(`Cannot assign to read only property '${StringCtor(key)}' of a frozen built-in`);
        defineProperty(this, key, { value: newValue, writable: true, enumerable: true, configurable: true });
      },
    };
    apply(weakSetAdd, overrideGetters, [accessors.get]);
    defineProperty(object, key, { get: accessors.get, set: accessors.set, enumerable: descriptor.enumerable, configurable: false });
  };
  for (const key of ['constructor', 'toString', 'toLocaleString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable']) {
    enableOverride(ObjectPrototype, key);
  }
  for (const proto of [ArrayPrototype, Function.prototype, Promise.prototype]) {
    enableOverride(proto, 'constructor');
    enableOverride(proto, 'toString');
  }
  for (const ctor of [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, AggregateError, SuppressedError]) {
    for (const key of ['constructor', 'name', 'message', 'toString']) enableOverride(ctor.prototype, key);
  }

  // Freeze every object reachable from the global object and from the
  // intrinsics that are only reachable through instances (iterator and
  // function-kind prototypes). After this no run can change what the next
  // run sees.
  const hiddenIntrinsics = () => {
    const segmenter = new Intl.Segmenter();
    return [
      async function () {}, function* () {}, async function* () {}, (async function* () {})(), (function* () {})(),
      [][Symbol.iterator](), new Map()[Symbol.iterator](), new Set()[Symbol.iterator](), ''[Symbol.iterator](),
      /a/[Symbol.matchAll](''), Iterator.from({ next() { return { done: true, value: undefined }; } }),
      [].values().map((x) => x), segmenter, segmenter.segment(''), segmenter.segment('')[Symbol.iterator](),
      getOwnPropertyDescriptor(Function.prototype, 'caller'), (function () { return arguments; })(),
    ];
  };
  const harden = (roots) => {
    const seen = new Set();
    const pending = [...roots];
    while (pending.length > 0) {
      const value = pending.pop();
      if ((typeof value !== 'object' || value === null) && typeof value !== 'function') continue;
      if (apply(setHas, seen, [value])) continue;
      apply(setAdd, seen, [value]);
      pending.push(getPrototypeOf(value));
      for (const key of ownKeys(value)) {
        const descriptor = getOwnPropertyDescriptor(value, key);
        if (descriptor === undefined) continue;
        if ('value' in descriptor) pending.push(descriptor.value);
        else pending.push(descriptor.get, descriptor.set);
      }
    }
    for (const value of seen) freeze(value);
    return seen.size;
  };

  // Logs: one line per console call, at most maxLogLines lines and
  // maxLogBytes UTF-8 bytes; whatever does not fit is counted and reported
  // by one marker line at the end.
  const utf8Length = (text, stopAfter) => {
    let bytes = 0;
    for (let i = 0; i < text.length && bytes <= stopAfter; i++) {
      const unit = apply(stringCharCodeAt, text, [i]);
      if (unit < 0x80) bytes += 1;
      else if (unit < 0x800) bytes += 2;
      else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) { bytes += 4; i++; } else bytes += 3;
    }
    return bytes;
  };
  const truncateToBytes = (text, maxBytes) => {
    let end = Math.min(text.length, maxBytes);
    while (end > 0 && utf8Length(apply(stringSlice, text, [0, end]), maxBytes) > maxBytes) end = Math.floor(end * 0.9);
    return apply(stringSlice, text, [0, end]);
  };
  const describeValue = (value) => {
    try {
      if (typeof value === 'string') return value;
      if (typeof value !== 'object' || value === null) return StringCtor(value);
      if (isProxy(value)) return '[Proxy]';
      if (value instanceof ErrorCtor) return `${StringCtor(value.name)}: ${StringCtor(value.message)}`;
      const json = stringify(value);
      return json === undefined ? StringCtor(value) : json;
    } catch {
      return '[unprintable value]';
    }
  };
  const createLog = () => ({ lines: [], bytes: 0, dropped: 0 });
  const appendLog = (log, level, args) => {
    if (log.lines.length >= config.maxLogLines || log.bytes >= config.maxLogBytes) { log.dropped++; return; }
    let line = level === 'log' ? '' : `[${level}] `;
    for (let i = 0; i < args.length; i++) line += (i > 0 ? ' ' : '') + describeValue(args[i]);
    const remaining = config.maxLogBytes - log.bytes;
    let bytes = utf8Length(line, remaining);
    if (bytes > remaining) {
      line = truncateToBytes(line, remaining);
      bytes = utf8Length(line, remaining);
      log.dropped++;
    }
    log.lines.push(line);
    log.bytes += bytes;
  };
  const finishLog = (log) => {
    if (log.dropped > 0) log.lines.push(`[logs truncated: ${log.dropped} line(s) dropped or cut at ${config.maxLogLines} lines / ${config.maxLogBytes} bytes]`);
    return log.lines;
  };
  const createConsole = (log) => ({
    log: (...args) => appendLog(log, 'log', args),
    info: (...args) => appendLog(log, 'info', args),
    warn: (...args) => appendLog(log, 'warn', args),
    error: (...args) => appendLog(log, 'error', args),
  });

  // Output: a fresh copy made only of JSON data, built without calling any
  // code the script wrote (no getters, no proxy traps, no toJSON). Anything
  // JSON would silently change or drop is refused with its path.
  class OutputProblem {
    constructor(code, path, message) { this.code = code; this.path = path; this.message = message; }
  }
  const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
  const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
  const childPath = (path, key) => (apply(regExpExec, identifier, [key]) !== null ? `${path}.${key}` : `${path}[${stringify(key)}]`);
  const describeKind = (value) => {
    if (typeof value !== 'object') return typeof value === 'function' ? 'a function' : `a ${typeof value}`;
    const proto = getPrototypeOf(value);
    const ctorDescriptor = proto === null ? undefined : getOwnPropertyDescriptor(proto, 'constructor');
    // Only data properties and the runtime's own override getters are read,
    // so describing a value never runs code the script wrote.
    let ctor;
    if (ctorDescriptor !== undefined && 'value' in ctorDescriptor) ctor = ctorDescriptor.value;
    else if (ctorDescriptor !== undefined && apply(weakSetHas, overrideGetters, [ctorDescriptor.get])) ctor = apply(ctorDescriptor.get, proto, []);
    const nameDescriptor = typeof ctor === 'function' ? getOwnPropertyDescriptor(ctor, 'name') : undefined;
    const name = nameDescriptor && typeof nameDescriptor.value === 'string' && nameDescriptor.value !== '' ? nameDescriptor.value : 'non-plain';
    return `a ${name} instance`;
  };
  const copyOutput = (root) => {
    let nodes = 0;
    const ancestors = new Set();
    const copy = (value, path, depth) => {
      if (++nodes > config.maxOutputNodes) throw new OutputProblem('script_output_too_large', path, `output has more than ${config.maxOutputNodes} values`);
      if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
      if (typeof value === 'number') {
        if (isFinite(value)) return value;
        throw new OutputProblem('script_output_invalid', path, `${path} is ${StringCtor(value)}, which is not JSON data`);
      }
      if (value === undefined) throw new OutputProblem('script_output_invalid', path, `${path} is undefined; use null or leave the key out`);
      if (typeof value !== 'object') throw new OutputProblem('script_output_invalid', path, `${path} is ${describeKind(value)}, which is not JSON data`);
      if (isProxy(value)) throw new OutputProblem('script_output_invalid', path, `${path} is a Proxy, which is not JSON data`);
      if (apply(setHas, ancestors, [value])) throw new OutputProblem('script_output_invalid', path, `${path} refers back to one of its parents (a cycle)`);
      if (depth >= config.maxOutputDepth) throw new OutputProblem('script_output_invalid', path, `${path} is nested deeper than ${config.maxOutputDepth} levels`);
      const array = isArray(value);
      const proto = getPrototypeOf(value);
      if (array ? proto !== ArrayPrototype : proto !== ObjectPrototype && proto !== null) {
        throw new OutputProblem('script_output_invalid', path, `${path} is ${describeKind(value)}; only plain objects and arrays are JSON data`);
      }
      apply(setAdd, ancestors, [value]);
      const result = array ? [] : {};
      const keys = ownKeys(value);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i];
        if (array && key === 'length') continue;
        if (typeof key === 'symbol') throw new OutputProblem('script_output_invalid', path, `${path} has a symbol key, which is not JSON data`);
        const keyPath = array ? `${path}[${key}]` : childPath(path, key);
        if (!array && apply(setHas, FORBIDDEN_KEYS, [key])) throw new OutputProblem('script_output_invalid', keyPath, `${keyPath}: the key "${key}" is not allowed in output (prototype pollution)`);
        const descriptor = getOwnPropertyDescriptor(value, key);
        if (!('value' in descriptor)) throw new OutputProblem('script_output_invalid', keyPath, `${keyPath} is a getter or setter; return plain values`);
        if (!descriptor.enumerable) throw new OutputProblem('script_output_invalid', keyPath, `${keyPath} is not enumerable, so JSON would drop it`);
        if (array && StringCtor(i) !== key) throw new OutputProblem('script_output_invalid', keyPath, `${keyPath}: arrays must be dense and have only index keys`);
        result[key] = copy(descriptor.value, keyPath, depth + 1);
      }
      apply(setDelete, ancestors, [value]);
      return result;
    };
    return copy(root, 'output', 0);
  };

  // Errors: message plus the line and column of the innermost frame in the
  // admin's code. Anything thrown is described without trusting it.
  const describeThrown = (thrown) => {
    const error = { code: 'script_runtime', message: 'the script threw a value that cannot be described' };
    try {
      if (typeof thrown === 'object' && thrown !== null && !isProxy(thrown) && thrown instanceof ErrorCtor) {
        error.message = `${StringCtor(thrown.name)}: ${StringCtor(thrown.message)}`;
        const stack = thrown.stack;
        const match = typeof stack === 'string' ? apply(regExpExec, frameLocation, [stack]) : null;
        if (match !== null) { error.line = +match[1]; error.column = +match[2]; }
      } else {
        error.message = `the script threw a non-Error value: ${describeValue(thrown)}`;
      }
    } catch {
      // The thrown value's own getters failed; keep what was gathered.
    }
    error.message = truncateToBytes(error.message, config.maxErrorMessageBytes);
    return error;
  };

  // Protocol. The host calls start() once per run; the script's promise and
  // every microtask it queues settle inside that same isolate task, because
  // nothing in this realm can resolve a promise later (no timers, I/O,
  // finalizers or host callbacks). collect() right after therefore knows the
  // final outcome; a run still pending then can never finish.
  let current = null;
  const settle = (run, envelope) => {
    if (run.envelope === null) run.envelope = envelope;
  };
  const succeed = (run, value) => {
    try {
      const output = copyOutput(value === undefined ? null : value);
      const outputJson = stringify(output);
      if (outputJson.length > config.maxOutputBytes || utf8Length(outputJson, config.maxOutputBytes) > config.maxOutputBytes) {
        throw new OutputProblem('script_output_too_large', 'output', `output is larger than ${config.maxOutputBytes} bytes as JSON`);
      }
      settle(run, `{"ok":true,"logs":${stringify(finishLog(run.log))},"output":${outputJson}}`);
    } catch (problem) {
      const error = problem instanceof OutputProblem
        ? { code: problem.code, message: truncateToBytes(problem.message, config.maxErrorMessageBytes), path: problem.path }
        : { code: 'script_output_invalid', message: `the output could not be copied: ${describeThrown(problem).message}`, path: 'output' };
      settle(run, stringify({ ok: false, logs: finishLog(run.log), error }));
    }
  };
  const fail = (run, thrown) => {
    settle(run, stringify({ ok: false, logs: finishLog(run.log), error: describeThrown(thrown) }));
  };
  const start = (scriptFunction, inputJson) => {
    const run = { log: createLog(), envelope: null };
    current = run;
    const input = parse(inputJson);
    const event = input.event;
    const data = 'data' in input ? input.data : typeof event === 'object' && event !== null ? event.data : undefined;
    const reservation = 'reservation' in input ? input.reservation : typeof data === 'object' && data !== null ? data.reservation : undefined;
    const tasks = 'tasks' in input ? input.tasks : {};
    try {
      const results = 'results' in input ? input.results : {};
      const promise = scriptFunction(event, data, reservation, tasks, input.trigger, createConsole(run.log), results, input.item, input.index, input.account, input.customer);
      apply(promiseThen, promise, [(value) => succeed(run, value), (thrown) => fail(run, thrown)]);
    } catch (thrown) {
      fail(run, thrown);
    }
  };
  const collect = () => {
    const run = current;
    current = null;
    if (run === null) return null;
    return run.envelope === null ? stringify({ pending: true, logs: finishLog(run.log) }) : run.envelope;
  };
  // Compile-only check of a function body, with the same parameters and
  // strictness as the real wrapper. The dynamic-function parser rejects a
  // body that closes the wrapper early, so admin code can never run at the
  // top level of the shared context.
  const checkBody = (code) => {
    try {
      new AsyncFunction(...SCRIPT_PARAMS, `"use strict";${code}`);
      return null;
    } catch (error) {
      return StringCtor(error && error.message);
    }
  };

  const protocol = { start, collect, checkBody };
  const frozenCount = harden([globalThis, protocol, ...hiddenIntrinsics()]);
  if (!Object.isFrozen(globalThis) || frozenCount < 100) throw new ErrorCtor('sandbox realm was not locked down');
  return protocol;
});
