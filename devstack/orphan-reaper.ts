import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/**
 * The owner's side of devstack/orphan-reaper-main.cjs: children are registered
 * as they start, so that if this process dies without cleaning up (SIGKILL,
 * a crash in jest), the reaper stops them and nothing is left running.
 */
export class OrphanReaper {
  private readonly watchdog: ChildProcess;

  constructor() {
    this.watchdog = spawn(process.execPath, [path.join(__dirname, 'orphan-reaper-main.cjs')], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    this.watchdog.unref();
    // The pipe must not keep this process alive; it only has to close when we exit.
    (this.watchdog.stdin as unknown as { unref(): void }).unref();
    this.watchdog.stdin?.on('error', () => {});
  }

  watch(pid: number): void {
    this.watchdog.stdin?.write(`+${pid}\n`);
  }

  forget(pid: number): void {
    this.watchdog.stdin?.write(`-${pid}\n`);
  }

  /** Ends the watchdog once every child was stopped normally; it then has nothing to do. */
  close(): void {
    this.watchdog.stdin?.end();
  }
}
