import { FilterCache, MATCH_BUDGET_MS, matchTriggers } from '../../engine/triggers/matcher';
import { interpretTasks } from '../../workflows/run-control';
import type { RunContext, TaskSpec, TaskState } from '../../workflows/types';

const event = { id: 'evt_1', type: 'request.created', occurredAt: '', data: { amount: 'abc', divisor: 0 } };
const trigger = (id: string, filter?: Record<string, unknown>) => ({ id, version: 1, on: { types: ['request.created'], ...(filter ? { filter } : {}) } });

describe('matching triggers with filters that throw', () => {
  it('counts a throwing filter as no match for that trigger only, and records why', () => {
    const throwing = trigger('trg_toint', { $expr: { $gt: [{ $toInt: '$data.amount' }, 5] } });
    const dividing = trigger('trg_divide', { $expr: { $gt: [{ $divide: [10, '$data.divisor'] }, 1] } });
    const plain = trigger('trg_plain');
    const outcome = matchTriggers([throwing, dividing, plain], event, new FilterCache());
    expect(outcome.matched.map((t) => t.id)).toEqual(['trg_plain']);
    expect(outcome.errors).toEqual([
      { triggerId: 'trg_toint', code: 'filter_failed', message: expect.stringMatching(/abc|convert|parse/i) },
      { triggerId: 'trg_divide', code: 'filter_failed', message: expect.stringMatching(/divi|zero/i) },
    ]);
  });

  it('stops matching once the per-event budget is spent, recording the triggers left', () => {
    let nowMs = 0;
    const slowClock = () => (nowMs += MATCH_BUDGET_MS / 2);
    const triggers = ['a', 'b', 'c', 'd'].map((id) => trigger(`trg_${id}`));
    const outcome = matchTriggers(triggers, event, new FilterCache(), { clock: slowClock });
    expect(outcome.matched.map((t) => t.id)).toEqual(['trg_a', 'trg_b']);
    expect(outcome.errors).toEqual([
      { triggerId: 'trg_c', code: 'match_budget_exceeded', message: expect.stringContaining(`${MATCH_BUDGET_MS} ms`) },
      { triggerId: 'trg_d', code: 'match_budget_exceeded', message: expect.stringContaining(`${MATCH_BUDGET_MS} ms`) },
    ]);
  });

  it('matches every trigger when the budget is not reached', () => {
    const outcome = matchTriggers([trigger('trg_a'), trigger('trg_b')], event, new FilterCache(), { clock: () => 0 });
    expect(outcome.matched).toHaveLength(2);
    expect(outcome.errors).toEqual([]);
  });
});

describe('a when that throws inside a run', () => {
  const context = (): RunContext => ({ event, data: event.data, tasks: {}, results: {}, trigger: { id: 't', name: 't', version: 1 } });
  const tasks = (onError: 'fail' | 'continue'): TaskSpec[] => [
    { id: 'first', type: 'script', code: 'return 1', onError, when: { $expr: { $gt: [{ $toInt: '$data.amount' }, 5] } } } as unknown as TaskSpec,
    { id: 'second', type: 'script', code: 'return 2' } as unknown as TaskSpec,
  ];
  const states = (): TaskState[] => [{ id: 'first', type: 'script', status: 'pending' }, { id: 'second', type: 'script', status: 'pending' }];
  const execute = async () => ({ output: 'ran' });
  const readError = (error: unknown) => ({ code: (error as { code?: string }).code ?? 'bug', message: String(error) });

  it('fails that task with when_failed and stops the run under onError "fail"', async () => {
    const run = states();
    const failure = await interpretTasks({ tasks: tasks('fail'), context: context(), effectKeyBase: 'wf', states: run }, execute, readError);
    expect(failure?.error.code).toBe('when_failed');
    expect(run.map((s) => s.status)).toEqual(['failed', 'skipped']);
  });

  it('fails only that task under onError "continue"', async () => {
    const run = states();
    const failure = await interpretTasks({ tasks: tasks('continue'), context: context(), effectKeyBase: 'wf', states: run }, execute, readError);
    expect(failure).toBeUndefined();
    expect(run.map((s) => [s.status, s.error?.code])).toEqual([['failed', 'when_failed'], ['completed', undefined]]);
  });
});
