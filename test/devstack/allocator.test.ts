import { allocatorVars, describeAllocator, jemallocLibrary, wantedAllocator, withAllocator, workerAllocator } from '../../devstack/allocator';

const LIBRARY = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2';

describe('the allocator workers are asked to run on', () => {
  it('is jemalloc unless WORKER_ALLOCATOR says glibc', () => {
    expect(wantedAllocator({})).toBe('jemalloc');
    expect(wantedAllocator({ WORKER_ALLOCATOR: 'jemalloc' })).toBe('jemalloc');
    expect(wantedAllocator({ WORKER_ALLOCATOR: 'glibc' })).toBe('glibc');
  });

  it('refuses any other WORKER_ALLOCATOR, naming the variable and its value', () => {
    expect(() => wantedAllocator({ WORKER_ALLOCATOR: 'tcmalloc' })).toThrow(expect.objectContaining({ code: 'invalid_env', message: 'WORKER_ALLOCATOR must be jemalloc or glibc, got "tcmalloc"' }));
  });
});

describe('the allocator a worker gets', () => {
  it('is jemalloc when asked for and installed, else glibc malloc saying why', () => {
    expect(workerAllocator('jemalloc', LIBRARY)).toEqual({ name: 'jemalloc', library: LIBRARY });
    expect(describeAllocator(workerAllocator('jemalloc', undefined))).toBe('glibc malloc (jemalloc is not installed (Debian package libjemalloc2))');
    expect(describeAllocator(workerAllocator('glibc', LIBRARY))).toBe('glibc malloc (WORKER_ALLOCATOR=glibc)');
  });

  it("is found where Debian's package puts it, on either architecture", () => {
    expect(jemallocLibrary((file) => file === '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2')).toBe('/usr/lib/aarch64-linux-gnu/libjemalloc.so.2');
    expect(jemallocLibrary(() => false)).toBeUndefined();
  });
});

describe("a worker's env", () => {
  const jemalloc = { name: 'jemalloc', library: LIBRARY } as const;

  it('preloads jemalloc first, keeping what the env preloads already, once', () => {
    expect(allocatorVars({}, jemalloc)).toEqual({ LD_PRELOAD: LIBRARY });
    expect(allocatorVars({ LD_PRELOAD: '/opt/trace.so' }, jemalloc)).toEqual({ LD_PRELOAD: `${LIBRARY}:/opt/trace.so` });
    expect(allocatorVars({ LD_PRELOAD: `/opt/a.so ${LIBRARY}:/opt/b.so` }, jemalloc)).toEqual({ LD_PRELOAD: `${LIBRARY}:/opt/a.so:/opt/b.so` });
  });

  it('is left as it is on glibc malloc', () => {
    const env = { PATH: '/usr/bin', LD_PRELOAD: '/opt/trace.so' };
    expect(withAllocator(env, { name: 'glibc', reason: 'WORKER_ALLOCATOR=glibc' })).toEqual(env);
    expect(withAllocator(env, jemalloc)).toEqual({ PATH: '/usr/bin', LD_PRELOAD: `${LIBRARY}:/opt/trace.so` });
  });
});
