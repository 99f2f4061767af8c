import { createSandbox, runScript, type Sandbox } from '../../scripts-sandbox';
import { DOCUMENTED_SCRIPT, expectFailure, expectSuccess, reservationEvent } from './fixtures';

describe('script sandbox contract', () => {
  let sandbox: Sandbox;
  beforeAll(() => {
    sandbox = createSandbox();
  });
  afterAll(() => sandbox.dispose());

  const run = (code: string, input = reservationEvent(5000)) => sandbox.run({ code, input });

  it('maps a 5000-cent reservation to a 6000-cent credit and $60, as documented', async () => {
    const result = expectSuccess(await run(DOCUMENTED_SCRIPT, reservationEvent(5000)));
    expect(result.output).toEqual({ amount_cents: 6000, vars: { DOLLARS: '$60' } });
    expect(result.logs).toEqual([]);
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('maps a 10000-cent reservation to a 15000-cent credit and $150, as documented', async () => {
    const result = expectSuccess(await run(DOCUMENTED_SCRIPT, reservationEvent(10000)));
    expect(result.output).toEqual({ amount_cents: 15000, vars: { DOLLARS: '$150' } });
  });

  it('serves the documented script through the default runScript sandbox', async () => {
    const result = expectSuccess(await runScript({ code: DOCUMENTED_SCRIPT, input: reservationEvent(10000) }));
    expect(result.output).toEqual({ amount_cents: 15000, vars: { DOLLARS: '$150' } });
  });

  it('gives the script event, data, reservation, tasks and trigger', async () => {
    const result = expectSuccess(await sandbox.run({
      code: 'return { type: event.type, sameData: data === event.data, price: reservation.price_int, tasks, trigger };',
      input: { ...reservationEvent(5000), tasks: { compute: { amount_cents: 1 } }, trigger: { id: 't-1', name: 'Top-up', version: 3 } },
    }));
    expect(result.output).toEqual({
      type: 'request.created', sameData: true, price: 5000,
      tasks: { compute: { amount_cents: 1 } }, trigger: { id: 't-1', name: 'Top-up', version: 3 },
    });
  });

  it('uses data and reservation given by the caller over the ones derived from the event', async () => {
    const result = expectSuccess(await sandbox.run({
      code: 'return [data, reservation];',
      input: { event: { data: { reservation: { price_int: 1 } } }, data: { own: true }, reservation: { price_int: 2 } },
    }));
    expect(result.output).toEqual([{ own: true }, { price_int: 2 }]);
  });

  it('leaves reservation undefined and tasks empty when the event has none', async () => {
    const result = expectSuccess(await sandbox.run({ code: 'return [typeof reservation, tasks, typeof trigger];', input: { event: { data: {} } } }));
    expect(result.output).toEqual(['undefined', {}, 'undefined']);
  });

  it('gives the script earlier results, and the item and index inside a forEach', async () => {
    const input = { ...reservationEvent(5000), results: { charge: { status: 'failed', error: { code: 'insufficient_funds' } } }, item: { owner: 'u1' }, index: 2 };
    const result = expectSuccess(await sandbox.run({ code: 'return [results.charge.error.code, item.owner, index];', input }));
    expect(result.output).toEqual(['insufficient_funds', 'u1', 2]);
  });

  it('gives results as an empty object, and item and index as undefined, outside a forEach', async () => {
    const result = expectSuccess(await sandbox.run({ code: 'return [results, typeof item, typeof index];', input: reservationEvent(5000) }));
    expect(result.output).toEqual([{}, 'undefined', 'undefined']);
  });

  it('lets the script await', async () => {
    const result = expectSuccess(await run('const x = await Promise.resolve(20); await null; return x + 1;'));
    expect(result.output).toBe(21);
  });

  it('outputs null when the script returns nothing', async () => {
    expect(expectSuccess(await run('const x = 1;')).output).toBeNull();
  });

  it('accepts every kind of JSON data as output', async () => {
    const result = expectSuccess(await run('return { s: "x", n: -1.5, t: true, f: false, z: null, a: [1, [2, {}]], o: Object.create(null) };'));
    expect(result.output).toEqual({ s: 'x', n: -1.5, t: true, f: false, z: null, a: [1, [2, {}]], o: {} });
  });

  it('captures console.log, info, warn and error in order', async () => {
    const result = expectSuccess(await run('console.log("a", 1, { b: [2] }); console.info("i"); console.warn("w"); console.error(new TypeError("e")); return 0;'));
    expect(result.logs).toEqual(['a 1 {"b":[2]}', '[info] i', '[warn] w', '[error] TypeError: e']);
  });

  it('keeps logs written before the script fails', async () => {
    const result = expectFailure(await run('console.log("before"); throw new Error("after");'));
    expect(result.logs).toEqual(['before']);
  });

  it('gives the input to the script as a copy', async () => {
    const input = reservationEvent(5000);
    expectSuccess(await sandbox.run({ code: 'reservation.price_int = 1; event.extra = true; return event;', input }));
    expect(input).toEqual(reservationEvent(5000));
  });

  it('reports a runtime error with its line and column in the admin code', async () => {
    const error = expectFailure(await run('const a = 1;\nconst b = null;\nreturn a + b.missing;')).error;
    expect(error).toEqual({ code: 'script_runtime', message: "TypeError: Cannot read properties of null (reading 'missing')", line: 3, column: 14 });
  });

  it('reports the innermost frame of the admin code for errors thrown in nested functions', async () => {
    const error = expectFailure(await run('function inner() {\n  throw new RangeError("too big");\n}\nreturn inner();')).error;
    expect(error).toMatchObject({ code: 'script_runtime', message: 'RangeError: too big', line: 2, column: 9 });
  });

  it('reports a syntax error with its line and column in the admin code', async () => {
    const error = expectFailure(await run('let a = 1;\nlet b = ;')).error;
    expect(error).toEqual({ code: 'script_syntax', message: "SyntaxError: Unexpected token ';'", line: 2, column: 9 });
  });

  it('reports code that ends too early at the end of the admin code, not in the wrapper', async () => {
    const error = expectFailure(await run('let a = 1;\nreturn a +')).error;
    expect(error).toEqual({ code: 'script_syntax', message: 'SyntaxError: Unexpected end of input', line: 2, column: 11 });
  });

  it('checks syntax without running the code', () => {
    expect(sandbox.checkSyntax(DOCUMENTED_SCRIPT)).toBeNull();
    expect(sandbox.checkSyntax('for (;;) {}')).toBeNull();
    expect(sandbox.checkSyntax('if (x) {\n  return 1;')).toEqual({ code: 'script_syntax', message: 'SyntaxError: Unexpected end of input', line: 2, column: 12 });
  });

  it('checks syntax in strict mode, as scripts run', () => {
    expect(sandbox.checkSyntax('with (event) {}')).toMatchObject({ code: 'script_syntax', line: 1, column: 1 });
  });

  it('surfaces promises rejected and never handled in the logs without failing the run', async () => {
    const result = expectSuccess(await run('Promise.reject(new Error("lost")); return 1;'));
    expect(result.output).toBe(1);
    expect(result.logs).toEqual(['[error] unhandled promise rejection: lost']);
  });
});
