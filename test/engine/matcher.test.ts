import { compileFilter, filterProblem } from '../../engine/triggers/matcher';
import { canonicalHash } from '../../engine/events/canonical-hash';

const event = (priceInt: number, resource = 'account-top-up') => ({ id: 'e', type: 'request.created', occurredAt: '', data: { reservation: { price_int: priceInt, resource: { id: resource } } } });

describe('trigger filters (MongoDB query syntax, evaluated in-process)', () => {
  it('matches on nested equality and comparison operators', () => {
    const matches = compileFilter({ 'data.reservation.resource.id': 'account-top-up', 'data.reservation.price_int': { $in: [5000, 10000] } });
    expect(matches(event(5000))).toBe(true);
    expect(matches(event(7000))).toBe(false);
    expect(matches(event(5000, 'room-1'))).toBe(false);
  });

  it('matches every event when there is no filter', () => {
    expect(compileFilter(undefined)(event(1))).toBe(true);
  });

  it('reports an unknown operator and over-deep nesting', () => {
    expect(filterProblem({ a: { $bogus: 1 } })).toMatch(/\$bogus/);
    let deep: Record<string, unknown> = { x: 1 };
    for (let i = 0; i < 15; i++) deep = { $and: [deep] };
    expect(filterProblem(deep)).toMatch(/deeper/);
  });
});

describe('event body hashing', () => {
  it('is independent of key order and sensitive to values', () => {
    expect(canonicalHash({ a: 1, b: { c: 2, d: [1, 2] } })).toBe(canonicalHash({ b: { d: [1, 2], c: 2 }, a: 1 }));
    expect(canonicalHash({ a: 1 })).not.toBe(canonicalHash({ a: 2 }));
    expect(canonicalHash({ a: [1, 2] })).not.toBe(canonicalHash({ a: [2, 1] }));
  });
});
