// Entry point of the child process that hosts the isolates. isolated-vm
// cannot stop every runaway builtin (a huge Array.prototype.fill, a split
// into hundreds of millions of strings): V8 may abort the whole process or
// leave a thread allocating after the isolate is disposed. Hosting the
// isolates here means such a script takes down this process, never the
// worker; the parent (sandbox.ts) fails the run and starts a fresh child.
//
// This process does nothing but runs, one at a time, so each run calls into
// its isolate synchronously on this thread (no isolated-vm thread hops); the
// watchdog thread (watchdog.ts) answers for a run that isolated-vm's timeout
// cannot end. Requests and results are frames on fd 3 (sandbox-protocol.ts).
// When the parent marks a request as part of a burst, the child polls fd 3
// for the next request after answering instead of parking (channel-poll.ts).
import { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { pollChannel } from './channel-poll';
import { createInProcessSandbox } from './in-process-sandbox';
import { CHANNEL_FD, decodeRequest, encodeChildFrame, FrameReader, type ChildFrame } from './sandbox-protocol';
import type { SandboxOptions } from './types';
import { Watchdog } from './watchdog';

const options = JSON.parse(process.argv[2] ?? '{}') as SandboxOptions;
/** Longest stretch of polled runs before the event loop gets a turn (the watchdog's events, the channel's end). */
const MAX_POLLING_MS = 20;

async function main(): Promise<void> {
  // Requests sent before the channel is read wait in the socket, so a slow
  // boot delays runs but loses none.
  if (options.bootDelayMs) await sleep(options.bootDelayMs);
  const sandbox = createInProcessSandbox({ ...options, syncRuns: true });
  const channel = new Socket({ fd: CHANNEL_FD, readable: true, writable: true });
  const send = (frame: ChildFrame): void => {
    channel.write(encodeChildFrame(frame));
  };
  const watchdog = new Watchdog((error) => {
    process.stderr.write(`script sandbox: ${error.message}\n`);
    process.exit(70);
  });
  const reader = new FrameReader();
  const pollBudgetMs = (options.burstPollUs ?? 0) / 1_000;
  /** Whether the last request answered was marked as part of a burst. */
  let inBurst = false;
  const readChunk = (chunk: Buffer): void => {
    for (const frame of reader.push(chunk)) {
      const request = decodeRequest(frame);
      inBurst = request.burst;
      watchdog.begin(request.id, request.timeoutMs);
      let answer: ChildFrame;
      try {
        const resultJson = sandbox.runJsonSync(request.code, request.inputJson, request.timeoutMs, request.memoryMb, watchdog);
        answer = { kind: 'result', id: request.id, compromised: sandbox.compromised, resultJson };
      } catch (error) {
        answer = { kind: 'failure', id: request.id, message: error instanceof Error ? error.message : String(error) };
      }
      // Lost to the watchdog: it has answered for this run, and the parent is replacing this process.
      if (watchdog.end(request.id)) send(answer);
    }
  };
  channel.on('data', (chunk: Buffer) => {
    readChunk(chunk);
    // In a burst the parent's next request follows within microseconds.
    const yieldAtMs = performance.now() + MAX_POLLING_MS;
    while (inBurst && pollBudgetMs > 0 && channel.writableLength === 0 && performance.now() < yieldAtMs && pollChannel(CHANNEL_FD, pollBudgetMs, readChunk) === 'data');
  });
  // The parent going away (or closing the channel) ends this process.
  channel.on('end', () => process.exit(0));
  channel.on('error', () => process.exit(0));
  send({ kind: 'ready' });
}

void main();
