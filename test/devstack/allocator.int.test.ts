// A process started with a worker's env really runs on jemalloc: the
// library is mapped into it, and a Node that allocates and frees runs to
// its end. `npm test` provisions the library (devstack/tools.ts).
import { spawnSync } from 'node:child_process';
import { jemallocLibrary, withAllocator, workerAllocator } from '../../devstack/allocator';

const library = jemallocLibrary();

describe('a process on the workers’ allocator', () => {
  it('has jemalloc mapped and runs Node to its end', () => {
    if (library === undefined) throw new Error('libjemalloc is not installed: npm test installs the Debian package libjemalloc2 (needs root or sudo)');
    const allocator = workerAllocator('jemalloc', library);
    const script = "const b = []; for (let i = 0; i < 2000; i++) b.push(Buffer.alloc(65536, i)); b.length = 0; process.stdout.write(require('fs').readFileSync('/proc/self/maps', 'utf8'))";
    const onJemalloc = spawnSync(process.execPath, ['-e', script], { env: withAllocator({ PATH: process.env.PATH }, allocator), encoding: 'utf8' });
    expect(onJemalloc.status).toBe(0);
    expect(onJemalloc.stdout).toContain(library);
    const onGlibc = spawnSync(process.execPath, ['-e', script], { env: withAllocator({ PATH: process.env.PATH }, workerAllocator('glibc', library)), encoding: 'utf8' });
    expect(onGlibc.status).toBe(0);
    expect(onGlibc.stdout).not.toContain('jemalloc');
  });
});
