import { parseChaosOptions } from '../../devstack/chaos-options';
import { KILL_KINDS, planChaos, PURCHASE_KINDS } from '../../devstack/chaos-plan';
import { SeededRandom } from '../../devstack/chaos-random';

const OPTIONS = { seed: 42, loadMs: 120_000, purchases: 200, kills: 10, windowSeconds: 15 };

describe('SeededRandom', () => {
  it('gives the same numbers for the same seed and others for another seed', () => {
    const draw = (seed: number) => Array.from({ length: 5 }, ((random) => () => random.next())(new SeededRandom(seed)));
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
  });

  it('keeps int within both bounds, reaching each of them', () => {
    const random = new SeededRandom(1);
    const seen = new Set(Array.from({ length: 500 }, () => random.int(3, 5)));
    expect([...seen].sort()).toEqual([3, 4, 5]);
  });

  it('forks independent streams: draws from one leave the other unchanged', () => {
    const a = new SeededRandom(9);
    const b = new SeededRandom(9);
    const first = a.fork('kills').next();
    b.fork('purchases').next();
    expect(b.fork('kills').next()).toBe(first);
  });
});

describe('planChaos', () => {
  it('plans the same run for the same seed, and another run for another seed', () => {
    expect(planChaos(OPTIONS)).toEqual(planChaos(OPTIONS));
    expect(planChaos({ ...OPTIONS, seed: 43 })).not.toEqual(planChaos(OPTIONS));
  });

  it('kills each kind of process at least once, in order of time, within the load phase', () => {
    const { kills } = planChaos({ ...OPTIONS, kills: 5 });
    expect(kills.map((kill) => kill.kind).sort()).toEqual([...KILL_KINDS].sort());
    const times = kills.map((kill) => kill.atMs);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(Math.max(...times)).toBeLessThan(OPTIONS.loadMs);
  });

  it('gives cancellations only to the cancelling kinds, with ids of their own', () => {
    const { purchases } = planChaos(OPTIONS);
    for (const purchase of purchases) {
      expect(Boolean(purchase.cancel)).toBe(purchase.kind.startsWith('cancel_'));
      if (purchase.cancel) {
        expect(purchase.cancel.id).not.toBe(purchase.purchase.id);
        expect(purchase.cancel.data).toEqual({ ...purchase.purchase.data });
      }
    }
    expect(new Set(purchases.map((purchase) => purchase.purchase.id)).size).toBe(purchases.length);
  });

  it('draws every kind of purchase in a run of 200', () => {
    const kinds = new Set(planChaos(OPTIONS).purchases.map((purchase) => purchase.kind));
    expect([...kinds].sort()).toEqual([...PURCHASE_KINDS].sort());
  });

  it('credits the documented packages and nothing for a price without one', () => {
    for (const purchase of planChaos(OPTIONS).purchases) {
      expect(purchase.expectedCreditCents).toBe(purchase.kind === 'no_package' ? 0 : purchase.priceInt === 5000 ? 6000 : 15000);
    }
  });

  it('cancels in the window within its first third', () => {
    const inWindow = planChaos(OPTIONS).purchases.filter((purchase) => purchase.kind === 'cancel_in_window');
    expect(inWindow.length).toBeGreaterThan(0);
    for (const purchase of inWindow) expect(purchase.delayMs).toBeLessThanOrEqual(5_000);
  });
});

describe('parseChaosOptions', () => {
  it('uses the defaults: 2 minutes, 200 purchases, one kill per 12 s, a 15 s window', () => {
    expect(parseChaosOptions(['--seed', '5'])).toEqual({ seed: 5, loadMs: 120_000, purchases: 200, kills: 10, windowSeconds: 15, keepData: false });
  });

  it('draws a seed when none is given', () => {
    expect(parseChaosOptions([])!.seed).toEqual(expect.any(Number));
  });

  it('kills at least once per kind however short the run', () => {
    expect(parseChaosOptions(['--minutes', '0.5'])!.kills).toBe(5);
  });

  it('accepts each bound and refuses just past it, naming the option', () => {
    expect(parseChaosOptions(['--purchases', '1', '--minutes', '60'])).toMatchObject({ purchases: 1, loadMs: 3_600_000 });
    expect(() => parseChaosOptions(['--purchases', '0'])).toThrow(/--purchases=0/);
    expect(() => parseChaosOptions(['--minutes', '61'])).toThrow(/--minutes=61/);
    expect(parseChaosOptions(['--kills', '5'])!.kills).toBe(5);
    expect(() => parseChaosOptions(['--kills', '4'])).toThrow(/--kills=4/);
    expect(() => parseChaosOptions(['--seed=-1'])).toThrow(/--seed=-1/);
  });

  it('refuses an unknown option with the usage', () => {
    expect(() => parseChaosOptions(['--sed', '4'])).toThrow(/usage: npm run chaos/);
  });

  it('answers --help with nothing to run', () => {
    expect(parseChaosOptions(['--help'])).toBeUndefined();
  });
});
