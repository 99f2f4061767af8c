// The memory allocator of the worker processes the project starts (`npm run
// dev`, the chaos stack, bench:worker-memory). glibc's malloc keeps what the
// worker's threads free (the workflow threads, the Temporal core's, V8's
// helpers) in per-thread arenas it seldom gives back, so a worker's RSS
// climbs for its first few thousand runs while the memory in use stays flat.
// jemalloc, preloaded from Debian's libjemalloc2, returns freed pages to the
// system on its own; the figures are in devstack/README.md ("Worker memory").
// WORKER_ALLOCATOR=glibc keeps glibc's malloc. Production sets LD_PRELOAD
// itself (README, production notes); nothing in the engine depends on it.
import fs from 'node:fs';
import { DevstackError } from './devstack-error';

/** Where Debian's (and other distributions') libjemalloc2 puts the library. */
const JEMALLOC_PATHS = [
  '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2',
  '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2',
  '/usr/lib64/libjemalloc.so.2',
  '/usr/lib/libjemalloc.so.2',
] as const;

/** The Debian package that holds it. */
export const JEMALLOC_PACKAGE = 'libjemalloc2';

/** The allocator a worker gets: jemalloc with its library, or glibc's malloc (asked for, or jemalloc is not installed). */
export type WorkerAllocator = { readonly name: 'jemalloc'; readonly library: string } | { readonly name: 'glibc'; readonly reason: string };

/** The installed libjemalloc, if any. */
export function jemallocLibrary(exists: (file: string) => boolean = fs.existsSync): string | undefined {
  return JEMALLOC_PATHS.find((file) => exists(file));
}

/** What WORKER_ALLOCATOR asks for: `jemalloc` (the default, when installed) or `glibc`. Any other value is refused, naming it. */
export function wantedAllocator(env: NodeJS.ProcessEnv): WorkerAllocator['name'] {
  const wanted = env.WORKER_ALLOCATOR ?? 'jemalloc';
  if (wanted === 'jemalloc' || wanted === 'glibc') return wanted;
  throw new DevstackError('invalid_env', `WORKER_ALLOCATOR must be jemalloc or glibc, got ${JSON.stringify(wanted)}`);
}

/** The allocator workers get for what was asked and the libjemalloc found (none: glibc's malloc, saying why). */
export function workerAllocator(wanted: WorkerAllocator['name'], library: string | undefined): WorkerAllocator {
  if (wanted === 'glibc') return { name: 'glibc', reason: 'WORKER_ALLOCATOR=glibc' };
  return library ? { name: 'jemalloc', library } : { name: 'glibc', reason: `jemalloc is not installed (Debian package ${JEMALLOC_PACKAGE})` };
}

/** The variables a worker process on `allocator` gets over `env`: for jemalloc, LD_PRELOAD with it first, before whatever `env` preloads already. */
export function allocatorVars(env: NodeJS.ProcessEnv, allocator: WorkerAllocator): Record<string, string> {
  if (allocator.name !== 'jemalloc') return {};
  const preloaded = (env.LD_PRELOAD ?? '').split(/[\s:]+/).filter((entry) => entry !== '' && entry !== allocator.library);
  return { LD_PRELOAD: [allocator.library, ...preloaded].join(':') };
}

/** The env of a worker process on `allocator` (see allocatorVars). */
export function withAllocator(env: NodeJS.ProcessEnv, allocator: WorkerAllocator): NodeJS.ProcessEnv {
  return { ...env, ...allocatorVars(env, allocator) };
}

/** How a worker's allocator reads in banners and benchmark headers. */
export function describeAllocator(allocator: WorkerAllocator): string {
  return allocator.name === 'jemalloc' ? `jemalloc (${allocator.library})` : `glibc malloc (${allocator.reason})`;
}
