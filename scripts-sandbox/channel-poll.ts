import { readSync } from 'node:fs';

/**
 * Runs closer together than this (one run's answer to the next request)
 * form a burst: only then does either end of the channel poll for the next
 * frame instead of parking in the event loop.
 */
export const BURST_GAP_MS = 1;

/** How a poll ended: a chunk was handed over, the budget ran out, or the channel reported its end or an error. */
export type PollEnd = 'data' | 'idle' | 'closed';

const READ_BYTES = 64 * 1024;
let scratch: Buffer | null = null;

/**
 * Reads the channel on `fd` directly, without the event loop, until a chunk
 * arrives or `budgetMs` passes. Both ends of the sandbox channel use it in a
 * burst of runs, when the other end is about to answer: a process that
 * parks pays for its wake-up and for caches and branch predictors gone cold
 * while it slept (about 40 us of a 110 us run on the 2-core machines
 * measured), so it stays on its core for up to the budget instead. Each
 * polling end burns its core while it waits, which is why only bursts poll
 * and why the budget is small: an idle sandbox costs nothing.
 *
 * The fd is the one libuv watches for the same socket, non-blocking. A
 * chunk read here is handed to `onChunk` (a copy: the read buffer is
 * reused) and never reaches the socket's 'data' event, so both paths must
 * feed the same frame reader, and the socket must be flowing (a 'data'
 * listener), so that nothing it has read waits unseen in its own buffer.
 * The end of the channel and read errors are left to the socket's own
 * events ('closed' here): EOF repeats, and a reset read here shows as an
 * end on the socket's next read.
 */
export function pollChannel(fd: number, budgetMs: number, onChunk: (chunk: Buffer) => void): PollEnd {
  scratch ??= Buffer.allocUnsafe(READ_BYTES);
  const until = performance.now() + budgetMs;
  do {
    const bytes = readNow(fd, scratch);
    if (bytes === null) continue;
    if (bytes <= 0) return 'closed';
    // Outside readNow, so errors raised while handling the chunk keep their stacks.
    onChunk(Buffer.from(scratch.subarray(0, bytes)));
    return 'data';
  } while (performance.now() < until);
  return 'idle';
}

/** One non-blocking read: the bytes read, 0 at the end of the channel, -1 on a read error, null when nothing is there yet. */
function readNow(fd: number, into: Buffer): number | null {
  // EAGAIN is reported as a thrown error; it needs no stack, and capturing one per attempt would dominate the loop.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return readSync(fd, into, 0, into.length, null);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EAGAIN' ? null : -1;
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

/** The fd under a socket, or null where Node keeps none (then the socket is only read through the event loop). */
export function socketFd(socket: object): number | null {
  const fd = (socket as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}
