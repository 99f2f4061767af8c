import { describeExit, type ChildExit, type ManagedChild } from './managed-child';
import { OrphanReaper } from './orphan-reaper';
import { say } from './say';

/**
 * Children are stopped layer by layer, highest first: the API and worker
 * before the services they use, so they can shut down gracefully.
 */
export enum Layer {
  Service = 0,
  App = 1,
}

/**
 * Owns every child of one stack: stops them all (TERM, then KILL after a
 * grace period) when asked, when a signal arrives, or when any child dies
 * unexpectedly, since a stack missing one part is not worth keeping up.
 */
export class Supervisor {
  readonly reaper = new OrphanReaper();
  private readonly children: { child: ManagedChild; layer: Layer }[] = [];
  private stopping: Promise<void> | undefined;
  private resolveDone!: (exitCode: number) => void;
  /** Resolves with the exit code the stack should end with, once everything stopped. */
  readonly done = new Promise<number>((resolve) => (this.resolveDone = resolve));

  constructor(private readonly graceMs: number) {}

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  add(child: ManagedChild, layer: Layer): void {
    this.children.push({ child, layer });
    void child.exited.then((exit) => this.onExit(child, exit));
  }

  /** Stops everything once; later calls wait for the same stop. */
  stop(exitCode: number): Promise<void> {
    this.stopping ??= this.stopLayers().then(() => {
      this.reaper.close();
      this.resolveDone(exitCode);
    });
    return this.stopping;
  }

  /** SIGINT, SIGTERM and SIGHUP stop the stack; repeats during the stop are ignored. */
  stopOnSignals(): void {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(signal, () => {
        if (!this.isStopping) say(`${signal} received: stopping everything`);
        void this.stop(0);
      });
    }
  }

  private onExit(child: ManagedChild, exit: ChildExit): void {
    if (this.isStopping) return;
    say(`${child.name} exited unexpectedly (${describeExit(exit)}): stopping the rest`);
    void this.stop(1);
  }

  private async stopLayers(): Promise<void> {
    for (const layer of [Layer.App, Layer.Service]) {
      const inLayer = this.children.filter((entry) => entry.layer === layer);
      await Promise.all(inLayer.map(({ child }) => child.stop(this.graceMs)));
    }
  }
}
