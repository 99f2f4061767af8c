import { Worker } from 'node:worker_threads';
import { WATCHDOG_GRACE_MS, type RunGuard } from './isolate-slot';
import { CHANNEL_FD } from './sandbox-protocol';

/** How often the watchdog thread looks at the run in progress; it sleeps on a futex in between, so an idle child costs nothing else. */
const WATCHDOG_POLL_MS = 50;
/** Compiling a new script (the body check, the compile, a first isolate's bootstrap) is bounded by this before the run's own deadline applies. */
const COMPILE_BUDGET_MS = 2_000;

// Shared with the watchdog thread: Int32 slots, then BigInt64 times in ms since `epoch`.
const RUN_ID = 0; // the run being guarded; 0 none, -1 claimed by the watchdog
const TIMEOUT_MS = 1;
const SLEEP = 2; // never changes: the watchdog's futex for sleeping
const DEADLINE = 0;
const STARTED = 1;
const TIMES_OFFSET = 16;

/**
 * The watchdog thread. It is plain JavaScript (no loader), writes the result
 * frame itself (fds are shared by the threads of a process) and never
 * touches the isolate: the run it answers for is stuck in a builtin
 * isolated-vm cannot stop, so the parent replaces the whole process.
 */
const WATCHDOG_SOURCE = `
'use strict';
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const state = new Int32Array(workerData.shared, 0, 4);
const times = new BigInt64Array(workerData.shared, ${TIMES_OFFSET}, 2);
const { epoch, fd, pollMs } = workerData;
const now = () => performance.timeOrigin + performance.now() - epoch;
const send = (frame) => {
  for (let offset = 0; offset < frame.length;) {
    try {
      offset += writeSync(fd, frame, offset);
    } catch (error) {
      if (error.code !== 'EAGAIN') throw error;
      Atomics.wait(state, ${SLEEP}, 0, 1);
    }
  }
};
for (;;) {
  Atomics.wait(state, ${SLEEP}, 0, pollMs);
  const id = Atomics.load(state, ${RUN_ID});
  if (id <= 0 || now() < Number(Atomics.load(times, ${DEADLINE}))) continue;
  if (Atomics.compareExchange(state, ${RUN_ID}, id, -1) !== id) continue;
  const timeoutMs = Atomics.load(state, ${TIMEOUT_MS});
  const durationMs = Math.round((now() - Number(Atomics.load(times, ${STARTED}))) * 1000) / 1000;
  const text = Buffer.from(JSON.stringify({ ok: false, error: { code: 'script_timeout', message: 'the script ran longer than ' + timeoutMs + ' ms' }, logs: [], durationMs }));
  // A result frame (sandbox-protocol.ts) with the compromised flag set.
  const frame = Buffer.alloc(10 + text.length);
  frame.writeUInt32LE(frame.length - 4, 0);
  frame.writeUInt32LE(id, 4);
  frame.writeUInt8(1, 8);
  frame.writeUInt8(1, 9);
  text.copy(frame, 10);
  send(frame);
}
`;

/**
 * Guards runs that block the child's only JS thread (`runJsonSync`). A
 * second thread checks the run in progress every 50 ms; once a run is
 * WATCHDOG_GRACE_MS past the deadline of the call it is in (isolated-vm's
 * own timeout having failed, as it does for a 2^31-element `fill`), the
 * thread claims the run, sends the parent `script_timeout` with the
 * compromised flag (the parent kills and replaces this process), and the
 * stuck thread's eventual answer is dropped. Arming and ending a run are
 * a few stores to shared memory: no timer, no wake-up.
 */
export class Watchdog implements RunGuard {
  private readonly shared = new SharedArrayBuffer(TIMES_OFFSET + 2 * BigInt64Array.BYTES_PER_ELEMENT);
  private readonly state = new Int32Array(this.shared, 0, 4);
  private readonly times = new BigInt64Array(this.shared, TIMES_OFFSET, 2);
  private readonly epoch = performance.timeOrigin + performance.now();
  private readonly thread: Worker;

  constructor(onFailure: (error: Error) => void) {
    this.thread = new Worker(WATCHDOG_SOURCE, {
      eval: true,
      workerData: { shared: this.shared, epoch: this.epoch, fd: CHANNEL_FD, pollMs: WATCHDOG_POLL_MS },
      stdout: false,
      stderr: false,
    });
    this.thread.on('error', onFailure);
    this.thread.on('exit', () => onFailure(new Error('the watchdog thread exited')));
    this.thread.unref();
  }

  private now(): number {
    return performance.timeOrigin + performance.now() - this.epoch;
  }

  /** Starts guarding run `id` (its compile first, then each call `arm` bounds). */
  begin(id: number, timeoutMs: number): void {
    const now = this.now();
    Atomics.store(this.state, TIMEOUT_MS, timeoutMs);
    Atomics.store(this.times, STARTED, BigInt(Math.floor(now)));
    Atomics.store(this.times, DEADLINE, BigInt(Math.ceil(now + COMPILE_BUDGET_MS + WATCHDOG_GRACE_MS)));
    Atomics.store(this.state, RUN_ID, id);
  }

  arm(ms: number): void {
    Atomics.store(this.times, DEADLINE, BigInt(Math.ceil(this.now() + ms + WATCHDOG_GRACE_MS)));
  }

  /** Ends the run; false when the watchdog already answered for it (its result must then be dropped). */
  end(id: number): boolean {
    return Atomics.compareExchange(this.state, RUN_ID, id, 0) === id;
  }
}
