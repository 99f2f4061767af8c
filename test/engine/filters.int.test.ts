import { randomUUID } from 'node:crypto';
import { startEngineHarness, type EngineHarness } from '../support/engine-harness';

let engine: EngineHarness;

beforeAll(async () => {
  engine = await startEngineHarness('filters');
});

afterAll(async () => {
  await engine?.close();
});

/** A trigger of the test's own event type, so tests never see each other's events. */
function trigger(type: string, options: { filter?: Record<string, unknown>; tasks?: unknown[] } = {}) {
  return {
    name: `filters ${randomUUID().slice(0, 8)}`,
    on: { types: [type], ...(options.filter ? { filter: options.filter } : {}) },
    wait: { seconds: 0 },
    tasks: options.tasks ?? [{ id: 'note', type: 'script', code: 'return { ok: true }' }],
  };
}

const uniqueType = () => `filters.t${randomUUID().slice(0, 8)}`;
const eventOf = (type: string, data: Record<string, unknown>) => ({ id: `evt_${randomUUID()}`, type, data });

describe('filters refused at save', () => {
  it('refuses a backtracking-prone $regex in on.filter and in a when, with 422 naming the field', async () => {
    const redos = { 'data.email': { $regex: '^(a+)+$' } };
    const onFilter = await engine.api.request('POST', '/v1/triggers', trigger(uniqueType(), { filter: redos }));
    expect(onFilter.status).toBe(422);
    expect(onFilter.body.errors).toEqual([expect.objectContaining({ path: 'on.filter', message: expect.stringMatching(/\$regex/) })]);

    const inWhen = await engine.api.request('POST', '/v1/triggers', trigger(uniqueType(), { tasks: [{ id: 'note', type: 'script', code: 'return 1', when: redos }] }));
    expect(inWhen.status).toBe(422);
    expect(inWhen.body.errors).toEqual([expect.objectContaining({ path: 'tasks.0.when', message: expect.stringMatching(/\$regex/) })]);
  });

  it('refuses $where and $function', async () => {
    for (const filter of [{ $where: 'true' }, { $expr: { $function: { body: 'function () { return true }', args: [], lang: 'js' } } }]) {
      const response = await engine.api.request('POST', '/v1/triggers', trigger(uniqueType(), { filter }));
      expect(response.status).toBe(422);
      expect(response.body.errors).toEqual([expect.objectContaining({ path: 'on.filter', message: expect.stringMatching(/\$where|\$function/) })]);
    }
  });

  it('refuses a __proto__ key in a when instead of dropping it', async () => {
    const when = JSON.parse('{"__proto__": {"data.never": true}}');
    const response = await engine.api.request('POST', '/v1/triggers', trigger(uniqueType(), { tasks: [{ id: 'note', type: 'script', code: 'return 1', when }] }));
    expect(response.status).toBe(422);
    expect(response.body.errors).toEqual([expect.objectContaining({ path: 'tasks.0.when', message: expect.stringMatching(/__proto__/) })]);
  });

  it('refuses a __proto__ key at the top of on.filter instead of dropping it (which would match every event)', async () => {
    for (const raw of ['{"__proto__": 1}', '{"__proto__": {"data.never": true}}']) {
      const response = await engine.api.request('POST', '/v1/triggers', trigger(uniqueType(), { filter: JSON.parse(raw) }));
      expect(response.status).toBe(422);
      expect(response.body.errors).toEqual([expect.objectContaining({ path: 'on.filter', message: expect.stringMatching(/__proto__/) })]);
    }
  });

  it('keeps a safe $regex working', async () => {
    const type = uniqueType();
    await engine.createTrigger(trigger(type, { filter: { 'data.email': { $regex: '@example\\.com$' } } }));
    expect((await engine.sendAndSettle(eventOf(type, { email: 'ada@example.com' }))).runs).toHaveLength(1);
    expect((await engine.sendAndSettle(eventOf(type, { email: 'ada@example.org' }))).runs).toHaveLength(0);
  });
});

describe('a filter that throws at match time', () => {
  it('counts as no match for its trigger only; the other trigger runs and the event records the error', async () => {
    const type = uniqueType();
    const throwing = await engine.createTrigger(trigger(type, { filter: { $expr: { $gt: [{ $toInt: '$data.amount' }, 5] } } }));
    const plain = await engine.createTrigger(trigger(type));
    const event = eventOf(type, { amount: 'abc' });

    const sent = await engine.sendAndSettle(event);
    expect(sent.status).toBe(202);
    expect(sent.runs.map((run) => [run.triggerId, run.status])).toEqual([[plain, 'completed']]);

    const shown = await engine.api.request('GET', `/v1/events/${event.id}`);
    expect(shown.body.filterErrors).toEqual([{ triggerId: throwing, code: 'filter_failed', message: expect.any(String) }]);

    const dryRun = await engine.api.request('POST', '/v1/triggers/dry-run', { event });
    expect(dryRun.body.matched.map((match: { triggerId: string }) => match.triggerId)).toEqual([plain]);
    expect(dryRun.body.notMatched).toEqual([expect.objectContaining({ triggerId: throwing, reason: expect.stringMatching(/^on\.filter failed: /) })]);
  });
});

describe('a when that throws inside a run', () => {
  it('fails only that task with when_failed, the run going on per onError; the dry run agrees', async () => {
    const type = uniqueType();
    const id = await engine.createTrigger(trigger(type, {
      tasks: [
        { id: 'check', type: 'script', code: 'return 1', onError: 'continue', when: { $expr: { $gt: [{ $divide: [10, '$data.divisor'] }, 1] } } },
        { id: 'after', type: 'script', code: 'return 2' },
      ],
    }));
    const event = eventOf(type, { divisor: 0 });

    const [run] = (await engine.sendAndSettle(event)).runs;
    expect(run!.status).toBe('completed');
    expect(run!.tasks.map((task: { status: string; error?: { code: string } }) => [task.status, task.error?.code])).toEqual([['failed', 'when_failed'], ['completed', undefined]]);

    const dryRun = await engine.api.request('POST', `/v1/triggers/${id}/dry-run`, { event });
    expect(dryRun.body.matched[0].tasks.map((task: { outcome: string; error?: { code: string } }) => [task.outcome, task.error?.code])).toEqual([['would_fail', 'when_failed'], ['would_complete', undefined]]);
  });
});
