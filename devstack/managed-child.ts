import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import readline from 'node:readline';
import type { OrphanReaper } from './orphan-reaper';

/** How many output lines a child keeps for error messages. */
const TAIL_LINES = 20;

export interface ChildSpec {
  /** The name shown in prefixes and messages, e.g. `temporal`. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Echo output lines to stdout, prefixed with the name; otherwise only the tail is kept. */
  readonly echo: boolean;
  /** Rewrites each echoed line (the dev console makes JSON logs readable); the tail keeps the raw line. */
  readonly format?: (line: string) => string;
}

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * One supervised child process. It runs in its own process group, so that
 * Ctrl-C in a terminal reaches only the supervisor, which then stops the
 * children in order, and so that stopping it also stops anything it spawned.
 */
export class ManagedChild {
  readonly name: string;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<ChildExit>;
  private readonly child: ChildProcess;
  private readonly lines: string[] = [];
  private readonly format: (line: string) => string;
  private exitInfo: ChildExit | undefined;

  constructor(
    spec: ChildSpec,
    private readonly reaper?: OrphanReaper,
  ) {
    this.name = spec.name;
    this.format = spec.format ?? ((line) => line);
    this.child = spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.exited = this.trackExit();
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (stream) readline.createInterface({ input: stream }).on('line', (line) => this.record(line, spec.echo));
    }
    if (this.child.pid) reaper?.watch(this.child.pid);
  }

  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  /** The last lines of output, for error messages about this child. */
  tail(): string {
    return this.lines.join('\n');
  }

  /**
   * Stops the child's whole process group: SIGTERM, then SIGKILL once
   * `graceMs` has passed. Safe to call more than once and after it exited.
   */
  async stop(graceMs: number): Promise<ChildExit> {
    if (!this.hasExited) this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  private signal(signal: NodeJS.Signals): void {
    if (!this.child.pid) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // The group is already gone.
    }
  }

  private async trackExit(): Promise<ChildExit> {
    const spawnError = once(this.child, 'error').then(([error]) => {
      this.record(`could not start ${this.name}: ${(error as Error).message}`, false);
      return { code: null, signal: null } as ChildExit;
    });
    const exit = once(this.child, 'close').then(([code, signal]) => ({ code, signal }) as ChildExit);
    this.exitInfo = await Promise.race([exit, spawnError]);
    if (this.child.pid) this.reaper?.forget(this.child.pid);
    return this.exitInfo;
  }

  private record(line: string, echo: boolean): void {
    this.lines.push(line);
    if (this.lines.length > TAIL_LINES) this.lines.shift();
    if (echo) process.stdout.write(`${this.name.padEnd(8)} | ${this.format(line)}\n`);
  }
}

/** Describes an exit for messages: `exit code 1` or `signal SIGKILL`. */
export function describeExit(exit: ChildExit): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}
