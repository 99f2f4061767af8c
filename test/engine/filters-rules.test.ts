import { MAX_FILTER_OPERATORS, MAX_REGEX_LENGTH } from '../../engine/triggers/filter-rules';
import { compileFilter, filterProblem } from '../../engine/triggers/matcher';
import { taskProblems } from '../../tasks/registry';
import type { TaskSpec } from '../../workflows/types';

const event = (data: Record<string, unknown>) => ({ id: 'e', type: 'request.created', occurredAt: '', data });
const noChecks = { checkScript: () => null, checkScriptLimits: () => [], templates: { has: () => true } as never, webhookAllowedHosts: [] };

describe('filter rules: regular expressions', () => {
  it('refuses a backtracking-prone $regex, so it never runs', () => {
    expect(filterProblem({ 'data.email': { $regex: '^(a+)+$' } })).toMatch(/\$regex "\^\(a\+\)\+\$" can take exponential|backtrack/);
  });

  it('refuses a backtracking-prone pattern hidden under $not and $elemMatch', () => {
    expect(filterProblem({ 'data.items': { $elemMatch: { name: { $not: { $regex: '(x+x+)+y' } } } } })).toMatch(/\$regex/);
  });

  it('accepts a safe $regex, which then matches', () => {
    const filter = { 'data.email': { $regex: '^[a-z0-9._-]+@example\\.com$', $options: 'i' } };
    expect(filterProblem(filter)).toBeNull();
    const matches = compileFilter(filter);
    expect(matches(event({ email: 'Ada@Example.com' }))).toBe(true);
    expect(matches(event({ email: 'ada@example.org' }))).toBe(false);
  });

  it(`accepts a pattern of ${MAX_REGEX_LENGTH} characters and refuses one longer`, () => {
    expect(filterProblem({ 'data.code': { $regex: 'a'.repeat(MAX_REGEX_LENGTH) } })).toBeNull();
    expect(filterProblem({ 'data.code': { $regex: 'a'.repeat(MAX_REGEX_LENGTH + 1) } })).toMatch(new RegExp(`longer than ${MAX_REGEX_LENGTH}`));
  });

  it('refuses $options other than i, m and s', () => {
    expect(filterProblem({ 'data.code': { $regex: 'a', $options: 'g' } })).toMatch(/\$options/);
  });
});

describe('filter rules: operators that run code or cannot be bounded', () => {
  it('refuses $where', () => {
    expect(filterProblem({ $where: 'this.data.amount > 5' })).toMatch(/\$where/);
  });

  it('refuses $function and $accumulator inside $expr', () => {
    expect(filterProblem({ $expr: { $function: { body: 'function () { return true }', args: [], lang: 'js' } } })).toMatch(/\$function/);
    expect(filterProblem({ $expr: { $accumulator: {} } })).toMatch(/\$accumulator/);
  });

  it('refuses $expr operators outside the allow-list ($regexMatch, $range, $reduce, $map)', () => {
    expect(filterProblem({ $expr: { $regexMatch: { input: '$data.email', regex: '^(a+)+$' } } })).toMatch(/\$regexMatch/);
    expect(filterProblem({ $expr: { $gt: [{ $size: { $range: [0, 1e9] } }, 1] } })).toMatch(/\$range/);
    expect(filterProblem({ $expr: { $gt: [{ $size: { $map: { input: '$data.items', in: '$$this' } } }, 1] } })).toMatch(/\$map/);
  });

  it('accepts comparison, arithmetic and conversion inside $expr', () => {
    expect(filterProblem({ $expr: { $and: [{ $gt: [{ $toInt: '$data.amount' }, 5] }, { $eq: [{ $toLower: '$data.kind' }, 'gift'] }] } })).toBeNull();
  });

  it(`accepts ${MAX_FILTER_OPERATORS} operators and refuses more`, () => {
    const clauses = (count: number) => Array.from({ length: count - 1 }, (_, i) => ({ [`data.f${i}`]: { $gt: i } }));
    expect(filterProblem({ $and: clauses(MAX_FILTER_OPERATORS) })).toBeNull();
    expect(filterProblem({ $and: [...clauses(MAX_FILTER_OPERATORS), { 'data.x': { $gt: 1 } }] })).toMatch(new RegExp(`more than ${MAX_FILTER_OPERATORS} operators`));
  });
});

describe('filter rules: prototype keys', () => {
  it.each(['__proto__', 'constructor', 'prototype'])('refuses the key %s anywhere in the filter', (key) => {
    expect(filterProblem(JSON.parse(`{"${key}": {"x": 1}}`))).toMatch(new RegExp(key));
    expect(filterProblem(JSON.parse(`{"data.a": {"$in": [{"${key}": 1}]}}`))).toMatch(new RegExp(key));
  });

  it('refuses a filter whose __proto__ key was already folded into its prototype', () => {
    const folded: Record<string, unknown> = {};
    folded['__proto__'] = { 'data.a': 1 };
    expect(filterProblem(folded)).toMatch(/__proto__/);
  });
});

describe("a task's when gets the same rules at save", () => {
  const script = (when: Record<string, unknown>): TaskSpec => ({ id: 'compute', type: 'script', code: 'return 1', when } as unknown as TaskSpec);

  it('refuses a backtracking-prone $regex in when, naming the task', async () => {
    const problems = await taskProblems([script({ 'data.email': { $regex: '^(a+)+$' } })], noChecks);
    expect(problems).toEqual([expect.objectContaining({ path: 'tasks.0.when', message: expect.stringMatching(/\$regex/) })]);
  });

  it('refuses $where and __proto__ in when', async () => {
    expect(await taskProblems([script({ $where: 'true' })], noChecks)).toEqual([expect.objectContaining({ path: 'tasks.0.when' })]);
    expect(await taskProblems([script(JSON.parse('{"__proto__": {"x": 1}}'))], noChecks)).toEqual([expect.objectContaining({ path: 'tasks.0.when' })]);
  });
});
