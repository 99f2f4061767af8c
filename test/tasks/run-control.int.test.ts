// when, onError and forEach on a real API, worker, store and mail server:
// which tasks run, skip or fail, and what they post and send.
import { randomUUID } from 'node:crypto';
import { startEngineHarness, type EngineHarness } from '../support/engine-harness';
import { mailsTo, waitForMails } from '../support/mailbox';

let engine: EngineHarness;

beforeAll(async () => {
  engine = await startEngineHarness('run_control');
});

afterAll(async () => {
  await engine?.close();
});

const unique = (prefix: string) => `${prefix}_${randomUUID().slice(0, 8)}`;
const eventType = () => `${unique('probe').toLowerCase()}.created`;
const event = (type: string, data: Record<string, unknown>) => ({ id: unique('evt'), type, data });

describe('when', () => {
  it('runs a task whose filter matches the run context and skips one whose filter does not, naming the filter', async () => {
    const type = eventType();
    const owner = unique('user');
    await engine.createTrigger({
      name: 'Tiered bonus', on: { types: [type] },
      tasks: [
        { id: 'tier', type: 'script', code: "return { tier: data.spent >= 1000 ? 'gold' : 'basic' };" },
        { id: 'gold', type: 'account', when: { 'tasks.tier.tier': 'gold' }, action: 'credit', amount: 500, owner: '{{data.owner}}', createIfMissing: true, unit: 'USD' },
        { id: 'basic', type: 'account', when: { 'tasks.tier.tier': 'basic' }, action: 'credit', amount: 100, owner: '{{data.owner}}', createIfMissing: true, unit: 'USD' },
      ],
    });
    const [run] = (await engine.sendAndSettle(event(type, { owner, spent: 1500 }))).runs;
    expect(run!.status).toBe('completed');
    expect(run!.tasks.map((task: { status: string }) => task.status)).toEqual(['completed', 'completed', 'skipped']);
    expect(run!.tasks[2].skipReason).toBe('when {"tasks.tier.tier":"basic"} did not match');
    expect(await engine.balanceOf(owner)).toBe(500);
  });
});

describe('when, in every run of a worker thread', () => {
  // The query engine is evaluated once per workflow thread and shared by its runs (WORKFLOW_BUNDLER_OPTIONS):
  // its operators must decide alike in the first run and in the runs after it.
  const conditions: Array<[string, Record<string, unknown>]> = [
    ['regex', { 'data.name': { $regex: '^al', $options: 'i' } }],
    ['elemMatch', { 'data.items': { $elemMatch: { k: { $gt: 3 } } } }],
    ['sizeAll', { $and: [{ 'data.tags': { $size: 2 } }, { 'data.tags': { $all: ['a', 'b'] } }] }],
    ['norMod', { $nor: [{ 'data.n': { $mod: [2, 0] } }] }],
    ['nin', { 'data.tags': { $nin: ['a'] } }],
    ['expr', { $expr: { $gt: [{ $add: ['$data.n', 1] }, 6] } }],
    ['typeNot', { 'data.name': { $type: 'string' }, 'data.n': { $not: { $lt: 5 } } }],
    ['or', { $or: [{ 'data.n': 4 }, { 'data.tags': 'z' }] }],
  ];
  const alice = { n: 7, tags: ['a', 'b'], items: [{ k: 1 }, { k: 5 }], name: 'Alice' };
  const bob = { n: 4, tags: ['c'], items: [], name: 'bob' };
  const ranFor = { alice: ['regex', 'elemMatch', 'sizeAll', 'norMod', 'expr', 'typeNot'], bob: ['nin', 'or'] };

  it('decides each operator alike in run after run', async () => {
    const type = eventType();
    await engine.createTrigger({ name: 'Operators', on: { types: [type] }, tasks: conditions.map(([id, when]) => ({ id, type: 'script', when, code: 'return 1;' })) });
    for (const [who, data] of [['alice', alice], ['bob', bob], ['alice', alice], ['bob', bob]] as const) {
      const [run] = (await engine.sendAndSettle(event(type, data))).runs;
      expect(run!.status).toBe('completed');
      const ran = run!.tasks.filter((task: { status: string }) => task.status === 'completed').map((task: { id: string }) => task.id);
      expect({ who, ran }).toEqual({ who, ran: ranFor[who] });
    }
  });
});

describe('onError', () => {
  function chargeTrigger(type: string, onError?: 'continue') {
    return {
      name: 'Charge or tell', on: { types: [type] },
      tasks: [
        { id: 'charge', type: 'account', action: 'debit', amount: 700, owner: '{{data.owner}}', createIfMissing: true, unit: 'USD', ...(onError ? { onError } : {}) },
        { id: 'tell', type: 'email', when: { 'results.charge.status': 'failed' }, to: '{{data.email}}', subject: 'Payment failed: {{results.charge.error.code}}', text: 'Your balance does not cover {{data.owner}}.' },
        { id: 'thank', type: 'email', when: { 'results.charge.status': 'completed' }, to: '{{data.email}}', subject: 'Paid', text: 'Thank you.' },
      ],
    };
  }

  it('with continue, a refused debit is a failed task and later tasks run and read results.<id>', async () => {
    const type = eventType();
    await engine.createTrigger(chargeTrigger(type, 'continue'));
    const owner = unique('user');
    const email = `${owner}@example.com`;
    const [run] = (await engine.sendAndSettle(event(type, { owner, email }))).runs;
    expect(run!.status).toBe('completed');
    expect(run!.tasks[0]).toMatchObject({ id: 'charge', status: 'failed', error: { code: 'insufficient_funds' } });
    expect(run!.tasks[1]).toMatchObject({ id: 'tell', status: 'completed' });
    expect(run!.tasks[2]).toMatchObject({ id: 'thank', status: 'skipped' });
    const mails = await waitForMails(email, 1);
    expect(mails.map((mail) => mail.subject)).toEqual(['Payment failed: insufficient_funds']);
    expect(await engine.balanceOf(owner)).toBeNull();
  });

  it('by default, a failed task fails the run and the later tasks are skipped', async () => {
    const type = eventType();
    await engine.createTrigger(chargeTrigger(type));
    const owner = unique('user');
    const [run] = (await engine.sendAndSettle(event(type, { owner, email: `${owner}@example.com` }))).runs;
    expect(run!.status).toBe('failed');
    expect(run!.tasks.map((task: { status: string }) => task.status)).toEqual(['failed', 'skipped', 'skipped']);
    expect(run!.tasks[1].skipReason).toBe('task "charge" failed');
    expect(await mailsTo(`${owner}@example.com`)).toEqual([]);
  });
});

describe('forEach', () => {
  it('runs the task once per item, each with its own idempotency key, and outputs the items in order', async () => {
    const type = eventType();
    await engine.createTrigger({
      name: 'Split credits', on: { types: [type] },
      tasks: [{ id: 'credit', type: 'account', forEach: 'data.items', when: { 'item.amount': { $gte: 100 } }, action: 'credit', amountFrom: 'item.amount', owner: '{{item.owner}}', createIfMissing: true, unit: 'USD' }],
    });
    const owners = [unique('a'), unique('b'), unique('c')];
    const items = [{ owner: owners[0], amount: 100 }, { owner: owners[1], amount: 250 }, { owner: owners[2], amount: 50 }];
    const [run] = (await engine.sendAndSettle(event(type, { items }))).runs;
    expect(run!.status).toBe('completed');
    const output = run!.tasks[0].output as Array<{ ownerId: string; amount: number } | null>;
    expect(output.map((item) => item && { ownerId: item.ownerId, amount: item.amount })).toEqual([{ ownerId: owners[0], amount: 100 }, { ownerId: owners[1], amount: 250 }, null]);
    expect([await engine.balanceOf(owners[0]!), await engine.balanceOf(owners[1]!), await engine.balanceOf(owners[2]!)]).toEqual([100, 250, null]);
    const entries = await engine.ledger.listEntries(owners[1]!, 'USD', { limit: 10 });
    expect(entries.items.map((entry) => entry.idempotencyKey)).toEqual([`${run!.workflowId}:credit:1`]);
  });

  it('fails the task with foreach_not_array or foreach_too_many when the data is not a list of at most 100', async () => {
    const type = eventType();
    await engine.createTrigger({
      name: 'Per item', on: { types: [type] },
      tasks: [{ id: 'each', type: 'script', forEach: 'data.items', code: 'return index;' }],
    });
    const notArray = (await engine.sendAndSettle(event(type, { items: { a: 1 } }))).runs[0]!;
    expect(notArray.tasks[0]).toMatchObject({ status: 'failed', error: { code: 'foreach_not_array' } });
    const hundred = (await engine.sendAndSettle(event(type, { items: Array.from({ length: 100 }, (_, i) => i) }))).runs[0]!;
    expect(hundred.tasks[0]).toMatchObject({ status: 'completed' });
    expect((hundred.tasks[0].output as number[])[99]).toBe(99);
    const tooMany = (await engine.sendAndSettle(event(type, { items: Array.from({ length: 101 }, (_, i) => i) }))).runs[0]!;
    expect(tooMany.tasks[0]).toMatchObject({ status: 'failed', error: { code: 'foreach_too_many' } });
  });
});

describe('bad task definitions are refused at save, naming the path', () => {
  const base = { name: 'Bad', on: { types: ['request.created'] } };
  const cases: Array<[string, unknown[], string]> = [
    ['an unknown task type', [{ id: 'x', type: 'invoice' }], 'tasks.0.type'],
    ['a forEach that is not a path', [{ id: 'x', type: 'script', code: 'return 1;', forEach: 'data items' }], 'tasks.0.forEach'],
    ['a when with an unknown operator', [{ id: 'x', type: 'script', code: 'return 1;', when: { 'data.a': { $nope: 1 } } }], 'tasks.0.when'],
    ['onError that is neither fail nor continue', [{ id: 'x', type: 'script', code: 'return 1;', onError: 'ignore' }], 'tasks.0.onError'],
    ['amount and amountFrom together', [{ id: 'x', type: 'account', action: 'credit', amount: 1, amountFrom: 'data.a' }], 'tasks.0.amount'],
    ['auto with a literal amount', [{ id: 'x', type: 'account', action: 'auto', amount: 1 }], 'tasks.0.action'],
    ['an amount above the ledger limit', [{ id: 'x', type: 'account', action: 'credit', amount: 1_000_000_000_001 }], 'tasks.0.amount'],
    ['a comment longer than the ledger keeps', [{ id: 'x', type: 'account', action: 'credit', amount: 1, comment: 'c'.repeat(1001) }], 'tasks.0.comment'],
    ['a unit and unitFrom together', [{ id: 'x', type: 'account', action: 'credit', amount: 1, unit: 'USD', unitFrom: 'data.currency' }], 'tasks.0.unitFrom'],
    ['a transfer to the account it draws from', [{ id: 'x', type: 'transfer', from: 'partner', to: 'partner', amount: 1 }], 'tasks.0.to'],
    ['a wait_for_event without correlate', [{ id: 'x', type: 'wait_for_event', types: ['payment.confirmed'], timeoutSeconds: 60 }], 'tasks.0.correlate'],
    ['a script over 64 KB of UTF-8 (fewer characters)', [{ id: 'x', type: 'script', code: `// ${'é'.repeat(33_000)}\nreturn 1;` }], 'tasks.0.code'],
  ];

  it.each(cases)('%s', async (_title, tasks, path) => {
    const response = await engine.api.request('POST', '/v1/triggers', { ...base, tasks });
    expect(response.status).toBe(422);
    expect(response.body.errors.map((error: { path: string }) => error.path)).toContain(path);
  });

  it('accepts the limits themselves: an amount of exactly 10^12, a 1,000-character comment, a script of exactly 64 KB', async () => {
    const exactly64k = `//${'x'.repeat(64 * 1024 - 2)}`;
    const response = await engine.api.request('POST', '/v1/triggers', {
      ...base,
      tasks: [
        { id: 'code', type: 'script', code: exactly64k },
        { id: 'money', type: 'account', action: 'credit', amount: 1_000_000_000_000, comment: 'c'.repeat(1000) },
      ],
    });
    expect(response.status).toBe(201);
  });
});
