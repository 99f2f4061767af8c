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
 * arrives or `budgetMs` passes. Either end of the sandbox channel uses it in
 * a burst of runs, when the other end is about to answer: waking a parked
 * process costs more than the run (the wake-up itself, and caches and
 * branch predictors gone cold while it slept, on this 2-core VM class about
 * half the round trip), so the process stays on its core for up to the
 * budget. It burns that core while it waits, which is why only bursts poll
 * and why the budget is small: an idle sandbox costs nothing.
 *
 * The fd is the one libuv watches for the same socket, non-blocking. A
 * chunk read here is handed to `onChunk` (a copy: the read buffer is
 * reused) and never reaches the socket's 'data' event, so both paths must
 * feed the same frame reader, and the socket must be flowing (a 'data'
 * listener), so that nothing it has read waits unseen in its own buffer. The end of the channel and read errors are
 * not consumed in a way libuv misses: EOF repeats, and a reset shows as an
 * end on the next read; the caller leaves both to the socket's own events.
 */
export function pollChannel(fd: number, budgetMs: number, onChunk: (chunk: Buffer) => void): PollEnd {
  scratch ??= Buffer.allocUnsafe(READ_BYTES);
  const until = performance.now() + budgetMs;
  // EAGAIN is reported as a thrown error; it needs no stack, and capturing one per attempt would dominate the loop.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    do {
      let bytes: number;
      try {
        bytes = readSync(fd, scratch, 0, READ_BYTES, null);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') continue;
        return 'closed';
      }
      if (bytes === 0) return 'closed';
      onChunk(Buffer.from(scratch.subarray(0, bytes)));
      return 'data';
    } while (performance.now() < until);
    return 'idle';
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

/** The fd under a socket, or null where Node keeps none (then the socket is only read through the event loop). */
export function socketFd(socket: { _handle?: unknown }): number | null {
  const fd = (socket._handle as { fd?: unknown } | null | undefined)?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}
