import { resolveOptions, type ResolvedOptions } from './limits';
import { SandboxBusyError } from './sandbox-busy-error';
import { SandboxDisposedError } from './sandbox-disposed-error';
import { createChildSandbox } from './sandbox';
import type { ProcessSandbox, SandboxOptions, ScriptRequest, ScriptResult } from './types';

interface Waiting {
  request: ScriptRequest;
  queuedAtMs: number;
  resolve: (result: ScriptResult) => void;
  reject: (error: unknown) => void;
}

const roundMs = (ms: number): number => Math.round(ms * 1_000) / 1_000;

/**
 * The sandbox the engine uses: `processes` child sandboxes side by side,
 * each running one script at a time, fed from one first-come-first-served
 * queue. A run waits for whichever process frees first, never behind one
 * particular slow script while another process sits idle. The queue holds at
 * most `queueLimit` runs per process; past it `run` throws `SandboxBusyError`
 * at once, so a flood of slow scripts cannot build a backlog that outlives
 * its callers. Children start on first use.
 */
class SandboxPool implements ProcessSandbox {
  private readonly options: ResolvedOptions;
  private readonly members: ProcessSandbox[];
  private readonly idle: ProcessSandbox[];
  private readonly waiting: Waiting[] = [];
  private disposed = false;

  constructor(options: SandboxOptions) {
    this.options = resolveOptions(options);
    this.members = Array.from({ length: this.options.processes }, () => createChildSandbox(options));
    this.idle = [...this.members];
  }

  private get maxWaiting(): number {
    return this.options.queueLimit * this.options.processes;
  }

  async run(request: ScriptRequest): Promise<ScriptResult> {
    if (this.disposed) throw new SandboxDisposedError();
    const queuedAtMs = performance.now();
    const member = this.idle.pop();
    if (member !== undefined) return this.runOn(member, request, queuedAtMs);
    if (this.waiting.length >= this.maxWaiting) throw new SandboxBusyError(Math.ceil(this.options.maxTimeoutMs / 1_000), this.options.queueLimit);
    return new Promise((resolve, reject) => this.waiting.push({ request, queuedAtMs, resolve, reject }));
  }

  checkSyntax(code: string) {
    return this.members[0]!.checkSyntax(code);
  }

  childPids(): number[] {
    return this.members.flatMap((member) => member.childPids());
  }

  dispose(): void {
    this.disposed = true;
    for (const waiting of this.waiting.splice(0)) waiting.reject(new SandboxDisposedError());
    for (const member of this.members) member.dispose();
  }

  /** Runs on a free member; the time spent in this queue is added to the member's own `queueMs` (its boot, if cold). */
  private async runOn(member: ProcessSandbox, request: ScriptRequest, queuedAtMs: number): Promise<ScriptResult> {
    const waitedMs = performance.now() - queuedAtMs;
    try {
      const result = await member.run(request);
      return { ...result, queueMs: roundMs(waitedMs + (result.queueMs ?? 0)) };
    } finally {
      this.release(member);
    }
  }

  private release(member: ProcessSandbox): void {
    const next = this.disposed ? undefined : this.waiting.shift();
    if (next === undefined) {
      this.idle.push(member);
      return;
    }
    this.runOn(member, next.request, next.queuedAtMs).then(next.resolve, next.reject);
  }
}

/** The engine's sandbox: a pool of `processes` child sandboxes behind one bounded queue (see `SandboxPool`). */
export function createSandbox(options: SandboxOptions = {}): ProcessSandbox {
  return new SandboxPool(options);
}
