import { createSandbox, type ProcessSandbox } from '../../scripts-sandbox';
import { decodeChildFrame, decodeRequest, encodeChildFrame, encodeRequest, FrameReader, type RunRequest } from '../../scripts-sandbox/sandbox-protocol';
import { DOCUMENTED_SCRIPT, expectFailure, expectSuccess, reservationEvent } from './fixtures';

const request: RunRequest = { id: 7, timeoutMs: 1_000, memoryMb: 64, code: 'return "é€😀";', inputJson: '{"event":{"name":"Zoë 😀"}}', burst: true };

describe('the sandbox channel frames', () => {
  it('round-trips a request and every kind of child frame, multi-byte text included', () => {
    const reader = new FrameReader();
    const [requestFrame] = reader.push(encodeRequest(request));
    expect(decodeRequest(requestFrame!)).toEqual(request);
    const frames = [
      { kind: 'ready' } as const,
      { kind: 'result', id: 9, compromised: true, resultJson: '{"ok":true,"logs":["ß"],"output":"😀","durationMs":0.1}' } as const,
      { kind: 'failure', id: 10, message: 'boom ✗' } as const,
    ];
    const decoded = reader.push(Buffer.concat(frames.map(encodeChildFrame))).map(decodeChildFrame);
    expect(decoded).toEqual(frames);
    expect(reader.partial).toBe(false);
  });

  it('reassembles frames split anywhere, one byte at a time, inside a length prefix or a multi-byte character', () => {
    const firstFrame = encodeRequest(request);
    const bytes = Buffer.concat([firstFrame, encodeRequest({ ...request, id: 8, burst: false, inputJson: `{"event":"${'ü'.repeat(70_000)}"}` })]);
    const reader = new FrameReader();
    const frames: Buffer[] = [];
    for (let i = 0; i < bytes.length; i++) {
      frames.push(...reader.push(bytes.subarray(i, i + 1)));
      // Between frames nothing is pending; inside one, something always is.
      expect(reader.partial).toBe(i + 1 !== firstFrame.length && i + 1 !== bytes.length);
    }
    expect(frames.map(decodeRequest).map((r) => [r.id, r.inputJson.length])).toEqual([[7, request.inputJson.length], [8, 70_000 + 12]]);
    expect(reader.partial).toBe(false);
  });

  it('hands over whole frames when a chunk ends in the middle of the next one', () => {
    const first = encodeChildFrame({ kind: 'failure', id: 1, message: 'one' });
    const second = encodeChildFrame({ kind: 'failure', id: 2, message: 'two' });
    const reader = new FrameReader();
    expect(reader.push(Buffer.concat([first, second.subarray(0, 3)])).map(decodeChildFrame)).toEqual([{ kind: 'failure', id: 1, message: 'one' }]);
    expect(reader.partial).toBe(true);
    expect(reader.push(second.subarray(3)).map(decodeChildFrame)).toEqual([{ kind: 'failure', id: 2, message: 'two' }]);
  });

  it('refuses a frame whose length prefix exceeds the bound', () => {
    const reader = new FrameReader(1_024);
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32LE(1_025);
    expect(() => reader.push(prefix)).toThrow(/exceeds/);
  });
});

describe('the sandbox channel between processes', () => {
  let sandbox: ProcessSandbox;
  beforeAll(() => {
    sandbox = createSandbox({ processes: 1 });
  });
  afterAll(() => sandbox.dispose());

  it('carries an output just under 256 KB of multi-byte UTF-8 and a multi-megabyte input intact', async () => {
    // 87,000 three-byte characters plus the quotes: 261,002 bytes of JSON.
    const big = expectSuccess(await sandbox.run({ code: 'return "€".repeat(87000);', input: reservationEvent(5000) }));
    expect(big.output).toBe('€'.repeat(87_000));
    const input = { event: { data: { blob: 'ß'.repeat(2_000_000) } } };
    const echoed = expectSuccess(await sandbox.run({ code: 'return [data.blob.length, data.blob.slice(0, 2)];', input }));
    expect(echoed.output).toEqual([2_000_000, 'ßß']);
  });

  it('fails a run whose process is killed mid-run with the documented retryable error, then serves the next run from a new process', async () => {
    expectSuccess(await sandbox.run({ code: 'return 1;', input: reservationEvent(5000) }));
    const [pid] = sandbox.childPids();
    const running = sandbox.run({ code: 'for (;;) {}', input: reservationEvent(5000), limits: { timeoutMs: 5_000 } });
    await new Promise((resolve) => setTimeout(resolve, 200));
    process.kill(pid!, 'SIGKILL');
    // Killed from outside, not by the script: never script_memory_limit (see process-death.test.ts).
    await expect(running).rejects.toMatchObject({ code: 'sandbox_stopped', retryable: true });
    const next = expectSuccess(await sandbox.run({ code: DOCUMENTED_SCRIPT, input: reservationEvent(10000) }));
    expect(next.output).toEqual({ amount_cents: 15000, vars: { DOLLARS: '$150' } });
    expect(sandbox.childPids()).not.toEqual([pid]);
  });

  it('answers for a run stuck in a builtin isolated-vm cannot stop within its timeout plus about 300 ms, and replaces the process', async () => {
    expectSuccess(await sandbox.run({ code: 'return 1;', input: reservationEvent(5000) }));
    const [pid] = sandbox.childPids();
    const result = await sandbox.run({ code: 'new Array(2 ** 31).fill(1); return 1;', input: reservationEvent(5000), limits: { timeoutMs: 200 } });
    expect(expectFailure(result).error).toEqual({ code: 'script_timeout', message: 'the script ran longer than 200 ms' });
    // The watchdog thread answered, not the parent's timeoutMs + 2 s backstop.
    expect(result.durationMs).toBeLessThan(1_500);
    expect(sandbox.childPids()).not.toEqual([pid]);
    expectSuccess(await sandbox.run({ code: 'return 1;', input: reservationEvent(5000) }));
  });
});

/**
 * In a burst (each run asked for within 1 ms of the previous answer) both
 * ends poll the channel instead of parking (channel-poll.ts). The frames
 * read that way must be exactly the frames the socket would have delivered.
 */
describe('a burst of runs over the sandbox channel', () => {
  let sandbox: ProcessSandbox;
  beforeAll(() => {
    // The longest poll, so that even runs moving 100 KB each way are answered within it.
    sandbox = createSandbox({ processes: 1, burstPollUs: 2_000 });
  });
  afterAll(() => sandbox.dispose());

  it('gives every run of a back-to-back burst its own answer, inputs and outputs of several reads included', async () => {
    const blob = 'é'.repeat(50_000);
    const outputs: unknown[] = [];
    for (let i = 0; i < 150; i++) {
      // Every fifth run carries about 100 KB each way, more than one 64 KB read.
      const input = { ...reservationEvent(i), tasks: i % 5 === 0 ? { n: { i, blob } } : { n: { i } } };
      outputs.push(expectSuccess(await sandbox.run({ code: 'return [reservation.price_int, tasks.n];', input })).output);
    }
    expect(outputs).toEqual(Array.from({ length: 150 }, (_, i) => [i, i % 5 === 0 ? { i, blob } : { i }]));
  });

  it('fails a run that times out in the middle of a burst, and the burst goes on', async () => {
    for (let i = 0; i < 20; i++) expectSuccess(await sandbox.run({ code: DOCUMENTED_SCRIPT, input: reservationEvent(5000) }));
    const result = await sandbox.run({ code: 'for (;;) {}', input: reservationEvent(5000), limits: { timeoutMs: 100 } });
    expect(expectFailure(result).error).toEqual({ code: 'script_timeout', message: 'the script ran longer than 100 ms' });
    for (let i = 0; i < 20; i++) {
      expect(expectSuccess(await sandbox.run({ code: DOCUMENTED_SCRIPT, input: reservationEvent(10000) })).output).toEqual({ amount_cents: 15000, vars: { DOLLARS: '$150' } });
    }
  });

  it('killed between two runs of a burst: the next run succeeds on a new process or fails retryably, and the burst goes on', async () => {
    for (let i = 0; i < 20; i++) expectSuccess(await sandbox.run({ code: 'return 1;', input: reservationEvent(5000) }));
    const [pid] = sandbox.childPids();
    process.kill(pid!, 'SIGKILL');
    try {
      expect(expectSuccess(await sandbox.run({ code: DOCUMENTED_SCRIPT, input: reservationEvent(5000) })).output).toEqual({ amount_cents: 6000, vars: { DOLLARS: '$60' } });
    } catch (error) {
      expect(error).toMatchObject({ code: 'sandbox_stopped', retryable: true });
    }
    for (let i = 0; i < 20; i++) expectSuccess(await sandbox.run({ code: 'return 2;', input: reservationEvent(5000) }));
    expect(sandbox.childPids()).not.toEqual([pid]);
  });
});
