import { setTimeout as sleep } from 'node:timers/promises';
import { DevstackError } from './devstack-error';
import { describeExit, type ManagedChild } from './managed-child';

const POLL_INTERVAL_MS = 200;

export interface ReadyCheck {
  /** What is being waited for, e.g. `Temporal on 127.0.0.1:7233`. */
  readonly what: string;
  /** Resolves true once ready; a rejection counts as not ready yet. */
  readonly probe: () => Promise<boolean>;
  /** The upper bound on the wait; a service that is not ready by then is reported. */
  readonly timeoutMs: number;
}

/**
 * Polls `check.probe` until it succeeds, the child exits, or the time limit
 * passes. Both failures name the service and show the child's last output
 * lines, since that is where the reason usually is.
 */
export async function waitUntilReady(child: ManagedChild, check: ReadyCheck): Promise<void> {
  const deadline = Date.now() + check.timeoutMs;
  while (Date.now() < deadline) {
    if (child.hasExited) {
      const exit = await child.exited;
      throw new DevstackError('service_exited', `${child.name} exited during startup (${describeExit(exit)})${lastOutput(child)}`);
    }
    if (await check.probe().catch(() => false)) return;
    await sleep(POLL_INTERVAL_MS);
  }
  throw new DevstackError('service_not_ready', `${check.what} was not ready within ${Math.round(check.timeoutMs / 1000)} s${lastOutput(child)}`);
}

function lastOutput(child: ManagedChild): string {
  const tail = child.tail().trim();
  return tail ? `; its last output:\n${tail}` : '; it printed nothing';
}

/** Resolves true when GET `url` answers with `status` within `timeoutMs`. */
export async function answersHttp(url: string, status: number, timeoutMs: number, headers: Record<string, string> = {}): Promise<boolean> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  await response.body?.cancel();
  return response.status === status;
}
