// Entry point of the child process that hosts the isolates. isolated-vm
// cannot stop every runaway builtin (a huge Array.prototype.fill, a split
// into hundreds of millions of strings): V8 may abort the whole process or
// leave a thread allocating after the isolate is disposed. Hosting the
// isolates here means such a script takes down this process, never the
// worker; the parent (sandbox.ts) fails the run and starts a fresh child.
import { setTimeout as sleep } from 'node:timers/promises';
import { createInProcessSandbox } from './in-process-sandbox';
import type { ChildMessage, ParentMessage } from './sandbox-protocol';
import type { SandboxOptions } from './types';

const options = JSON.parse(process.argv[2] ?? '{}') as SandboxOptions;
const send = (message: ChildMessage): void => {
  process.send?.(message);
};

async function main(): Promise<void> {
  // Messages sent before the listener below exists wait in the IPC pipe, so
  // a slow boot delays runs but loses none.
  if (options.bootDelayMs) await sleep(options.bootDelayMs);
  const sandbox = createInProcessSandbox({
    ...options,
    onCatastrophicError: (message) => send({ type: 'catastrophic', message }),
  });
  process.on('message', (message: ParentMessage) => {
    send({ type: 'started', id: message.id });
    sandbox.run(message.request).then(
      (result) => send({ type: 'result', id: message.id, result, compromised: sandbox.compromised }),
      (error: unknown) => send({ type: 'failure', id: message.id, message: error instanceof Error ? error.message : String(error) }),
    );
  });
}

// The parent going away (or closing the channel) ends this process.
process.on('disconnect', () => process.exit(0));
void main();
