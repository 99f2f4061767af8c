import { setTimeout as sleep } from 'node:timers/promises';
import type { KillKind, PlannedKill } from './chaos-plan';
import type { ChaosStack, ProcessName } from './chaos-stack';

/** One kill as it happened. */
export interface KillRecord {
  readonly kind: KillKind;
  readonly name: ProcessName;
  readonly pid: number;
  /** When the SIGKILL went out (ms since the epoch). */
  readonly killedAt: number;
  readonly downMs: number;
  /** From the restart's launch until it answered again. */
  readonly restartMs: number;
}

/**
 * Carries out the planned kills, each at its moment whatever the others do:
 * kills of different processes overlap (a worker may still be restarting
 * when FerretDB goes), while a process still coming back from its last kill
 * is killed again once it answers. Each kill is a SIGKILL, `downMs` of
 * nothing, and a restart on the same port and data. Kills not yet due when
 * `shouldStop` says so are skipped. A process that will not come back
 * rejects, which ends the run.
 */
export async function runKills(kills: readonly PlannedKill[], stack: ChaosStack, startedAt: number, say: (message: string) => void, shouldStop: () => boolean): Promise<KillRecord[]> {
  const at = (time: number) => `t+${seconds(time - startedAt)} s`;
  const done = await Promise.all(kills.map(async (kill): Promise<KillRecord | undefined> => {
    await sleep(Math.max(0, startedAt + kill.atMs - Date.now()));
    if (shouldStop()) return undefined;
    const candidates = stack.candidates(kill.kind);
    const name = candidates[kill.replica % candidates.length]!;
    const { pid, killedAt, restartMs } = await stack.killAndRestart(name, kill.downMs, (killed) => say(`${at(Date.now())}: kill -9 ${name} (pid ${killed}), down ${seconds(kill.downMs)} s`));
    say(`${at(Date.now())}: ${name} is back (restart took ${seconds(restartMs)} s)`);
    return { kind: kill.kind, name, pid, killedAt, downMs: kill.downMs, restartMs };
  }));
  return done.filter((record): record is KillRecord => record !== undefined);
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
