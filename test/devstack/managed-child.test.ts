import fs from 'node:fs';
import { ManagedChild } from '../../devstack/managed-child';
import { waitUntilReady } from '../../devstack/wait-ready';

function shell(script: string): ManagedChild {
  return new ManagedChild({ name: 'probe', command: 'sh', args: ['-c', script], echo: false });
}

/** A zombie counts as dead: it has exited, only its parent has not collected it yet. */
function isAlive(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Polls until the process is gone or `timeoutMs` has passed, and says whether it is still alive. */
async function aliveAfter(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  return isAlive(pid);
}

describe('ManagedChild', () => {
  it('keeps the last lines of output for error messages', async () => {
    const child = shell('for i in $(seq 1 30); do echo line $i; done');
    await child.exited;
    expect(child.tail().split('\n')).toEqual(Array.from({ length: 20 }, (_, index) => `line ${index + 11}`));
  });

  it('stops the whole process group, including what the child started', async () => {
    const child = shell('sleep 300 & echo $!; wait');
    await waitUntilReady(child, { what: 'the probe', probe: async () => /^\d+$/.test(child.tail()), timeoutMs: 5_000 });
    const grandchildPid = Number(child.tail());

    await expect(child.stop(2_000)).resolves.toMatchObject({ signal: 'SIGTERM' });
    // The group's signal reached the grandchild too; it may take a moment to exit.
    expect(await aliveAfter(grandchildPid, 2_000)).toBe(false);
  });

  it('kills a child that ignores SIGTERM once the grace period is over', async () => {
    const child = shell("trap '' TERM; echo ready; while true; do sleep 0.1; done");
    await waitUntilReady(child, { what: 'the probe', probe: async () => child.tail() === 'ready', timeoutMs: 5_000 });
    await expect(child.stop(300)).resolves.toMatchObject({ signal: 'SIGKILL' });
  });
});

describe('waitUntilReady', () => {
  it('fails at once with the last output when the child exits during startup', async () => {
    const child = shell('echo "bind: address already in use" >&2; exit 3');
    const wait = waitUntilReady(child, { what: 'the probe', probe: async () => false, timeoutMs: 10_000 });
    await expect(wait).rejects.toMatchObject({ code: 'service_exited', message: expect.stringMatching(/probe exited during startup \(exit code 3\).*\n.*address already in use/s) });
  });

  it('gives up after its time limit, naming what it waited for', async () => {
    const child = shell('echo starting; sleep 30');
    const wait = waitUntilReady(child, { what: 'the probe on port 1', probe: async () => false, timeoutMs: 500 });
    await expect(wait).rejects.toMatchObject({ code: 'service_not_ready', message: expect.stringContaining('the probe on port 1 was not ready within 1 s') });
    await child.stop(1_000);
  });
});
