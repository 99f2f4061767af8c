import { diffValues, formatChange, lineDiff } from '../../cli/diff';

describe('the diff apply prints', () => {
  it('finds nothing between equal values, whatever their key order', () => {
    expect(diffValues({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toEqual([]);
  });

  it('names each changed, added and removed leaf by its dotted path', () => {
    const before = { name: 'Top-up', wait: { seconds: 1800 }, description: 'old', tasks: [{ id: 'a', amount: 1 }, { id: 'b' }] };
    const after = { name: 'Top-up', wait: { seconds: 20 }, tasks: [{ id: 'a', amount: 2 }, { id: 'b' }, { id: 'c' }], enabled: false };
    expect(diffValues(before, after)).toEqual([
      { path: 'wait.seconds', before: 1800, after: 20 },
      { path: 'tasks.0.amount', before: 1, after: 2 },
      { path: 'tasks.2', before: undefined, after: { id: 'c' } },
      { path: 'enabled', before: undefined, after: false },
      { path: 'description', before: 'old', after: undefined },
    ]);
  });

  it('treats a change of type as one change at that path', () => {
    expect(diffValues({ on: { filter: { a: 1 } } }, { on: { filter: [1] } })).toEqual([{ path: 'on.filter', before: { a: 1 }, after: [1] }]);
  });

  it('reads as old -> new, with (absent) for a missing side', () => {
    expect(formatChange({ path: 'wait.seconds', before: 1800, after: 20 })).toEqual(['wait.seconds: 1800 -> 20']);
    expect(formatChange({ path: 'name', before: 'A', after: 'B' })).toEqual(['name: "A" -> "B"']);
    expect(formatChange({ path: 'description', before: undefined, after: 'x' })).toEqual(['description: (absent) -> "x"']);
  });

  it('shows texts of several lines as the lines removed and added', () => {
    const before = 'let amount = 0;\nif (a) amount = 6000;\nreturn amount;';
    const after = 'let amount = 0;\nif (a) amount = 7000;\nreturn amount;\n// done';
    expect(lineDiff(before, after)).toEqual(['- if (a) amount = 6000;', '+ if (a) amount = 7000;', '+ // done']);
    expect(formatChange({ path: 'tasks.0.code', before, after })).toEqual(['tasks.0.code:', '  - if (a) amount = 6000;', '  + if (a) amount = 7000;', '  + // done']);
  });
});
