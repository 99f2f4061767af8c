import { ROUTING_LEASE_MS, RoutingCache } from '../../../engine/events/routing-cache';

/** A cache over a read that counts its calls, on a clock the test moves. */
function cacheWithClock(read: (type: string) => Promise<{ listening: Array<{ id: string }> }> = async (type) => ({ listening: [{ id: `trg_${type}` }] })) {
  let now = 10_000;
  const reads: string[] = [];
  const cache = new RoutingCache(async (type: string) => {
    reads.push(type);
    return read(type);
  }, { now: () => now });
  return { cache, reads, advance: (ms: number) => { now += ms; } };
}

describe('RoutingCache', () => {
  it('reads a type once per lease and again once the lease has run out', async () => {
    const { cache, reads, advance } = cacheWithClock();
    expect(await cache.get('request.created')).toEqual({ listening: [{ id: 'trg_request.created' }] });
    advance(ROUTING_LEASE_MS - 1);
    await cache.get('request.created');
    expect(reads).toEqual(['request.created']);
    advance(1);
    await cache.get('request.created');
    expect(reads).toEqual(['request.created', 'request.created']);
  });

  it('keeps each type apart', async () => {
    const { cache, reads } = cacheWithClock();
    expect((await cache.get('a.one')).listening[0]!.id).toBe('trg_a.one');
    expect((await cache.get('b.two')).listening[0]!.id).toBe('trg_b.two');
    expect(reads).toEqual(['a.one', 'b.two']);
  });

  it('lets callers that ask while a read is in flight share it', async () => {
    let release: () => void = () => undefined;
    const { cache, reads } = cacheWithClock(() => new Promise((resolve) => { release = () => resolve({ listening: [] }); }));
    const asked = [cache.get('request.created'), cache.get('request.created'), cache.get('request.created')];
    release();
    await Promise.all(asked);
    expect(reads).toHaveLength(1);
  });

  it('does not keep a read that failed: the next caller reads again', async () => {
    let fail = true;
    const { cache, reads } = cacheWithClock(async () => {
      if (fail) throw new Error('store down');
      return { listening: [] };
    });
    await expect(cache.get('request.created')).rejects.toThrow('store down');
    fail = false;
    await expect(cache.get('request.created')).resolves.toEqual({ listening: [] });
    expect(reads).toHaveLength(2);
  });

  it('answers frozen routing, so no caller can change what the next one is routed by', async () => {
    const { cache } = cacheWithClock();
    const routing = await cache.get('request.created');
    expect(() => { routing.listening.push({ id: 'trg_other' }); }).toThrow(TypeError);
    expect(() => { routing.listening[0]!.id = 'trg_other'; }).toThrow(TypeError);
    expect((await cache.get('request.created')).listening).toEqual([{ id: 'trg_request.created' }]);
  });

  it('forgets the least recently read type beyond 1,000 types', async () => {
    const { cache, reads } = cacheWithClock();
    for (let i = 0; i <= 1_000; i += 1) await cache.get(`type.t${i}`);
    await cache.get('type.t1000');
    expect(reads).toHaveLength(1_001);
    await cache.get('type.t0');
    expect(reads).toHaveLength(1_002);
  });
});
