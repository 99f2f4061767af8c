// The dry run and a real run of the same trigger and event must agree on
// every task: what it does (complete, skip, fail), why it skips, which code
// it fails with, and what it outputs where both can know it. Each case runs
// the dry run first, then sends the event for real against fresh accounts,
// so the balances the dry run projects are the ones the ledger reaches.
import { randomUUID } from 'node:crypto';
import { createActivities } from '../../activities';
import { createLedger } from '../../engine/ledger';
import { createSmtpMailer } from '../../engine/mail/mailer';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../../engine/mail/templates';
import { createSandbox } from '../../scripts-sandbox';
import { startTestApi, type TestApi } from '../support/api';
import { openTestStore } from '../support/store';
import { startTestWorker, type TestWorker } from '../support/temporal';

let store: Awaited<ReturnType<typeof openTestStore>>;
let worker: TestWorker;
let api: TestApi;
const sandbox = createSandbox();
const mailer = createSmtpMailer(process.env.SMTP_URL ?? '', 'Creditflow <no-reply@creditflow.test>');
const tag = randomUUID().slice(0, 8);
const triggerIds = new Map<string, string>();
/** `<task type>:<outcome>` pairs the cases produced, so the test can show it covers what it claims. */
const seen = new Set<string>();

beforeAll(async () => {
  store = await openTestStore('dry_run_equivalence');
  const ledger = createLedger({ connection: store.connection });
  await ledger.ensureIndexes();
  worker = await startTestWorker(createActivities({ connection: store.connection, sandbox, ledger, mailer, templates: fileTemplateCatalog(BUNDLED_TEMPLATES_DIR) }));
  api = await startTestApi({ store: store.connection, temporal: worker.client, taskQueue: worker.taskQueue });
  for (const [name, tasks] of Object.entries(TRIGGERS)) {
    const created = await api.request('POST', '/v1/triggers', { name: `${name} (${tag})`, on: { types: ['order.placed'], filter: { 'data.case': `${name}-${tag}` } }, wait: { seconds: 0 }, tasks });
    expect(created.status).toBe(201);
    triggerIds.set(name, created.body.id);
  }
});

afterAll(async () => {
  await api?.close();
  await worker?.stop();
  sandbox.dispose();
  mailer.close();
  await store?.close();
});

const creditable = { 'tasks.compute.amount_cents': { $gt: 0 } };
const statusReport = 'return Object.fromEntries(Object.entries(results).map(([id, r]) => [id, { status: r.status, code: r.error ? r.error.code : null, amount: r.output && r.output.amount !== undefined ? r.output.amount : null, balanceAfter: r.output && r.output.balanceAfter !== undefined ? r.output.balanceAfter : null }]));';

const TRIGGERS: Record<string, Array<Record<string, unknown>>> = {
  // A script feeding an account task and an email, both behind `when`, and a posting of 0 that skips by itself.
  'top-up': [
    { id: 'compute', type: 'script', code: "let amount = 0;\nif (reservation.price_int === 5000) amount = 6000;\nif (reservation.price_int === 10000) amount = 15000;\nreturn { amount_cents: amount, vars: { DOLLARS: '$' + Math.trunc(amount / 100) }, seen: { id: event.id, type: event.type, occurredAt: event.occurredAt, trigger: trigger.name, version: trigger.version } };" },
    { id: 'credit', type: 'account', when: creditable, action: 'credit', inputTaskId: 'compute', createIfMissing: true, unit: 'USD' },
    { id: 'notify', type: 'email', when: creditable, inputTaskId: 'compute', subject: 'Credited {{DOLLARS}}, balance {{tasks.credit.balanceAfter}}', text: 'Hello {{reservation.user.name}}' },
    { id: 'bonus', type: 'account', action: 'credit', inputTaskId: 'compute', createIfMissing: true, unit: 'CREDIT' },
  ],
  // amountFrom, unitFrom, action auto, onError continue with a later email and script reading results, and a refused debit that fails the run.
  amounts: [
    { id: 'deposit', type: 'account', action: 'credit', amountFrom: 'reservation.price_int', unitFrom: 'reservation.currency', owner: '{{reservation.user.id}}', createIfMissing: true },
    { id: 'adjust', type: 'script', code: 'return { amount_cents: data.adjust };' },
    { id: 'settle', type: 'account', action: 'auto', inputTaskId: 'adjust', unitFrom: 'reservation.currency', onError: 'continue' },
    { id: 'tell', type: 'email', when: { 'results.settle.status': 'failed' }, subject: 'Could not settle: {{results.settle.error.code}}', text: 'Sorry {{reservation.user.name}}' },
    { id: 'report', type: 'script', code: statusReport },
    { id: 'strict', type: 'account', when: { 'data.strict': true }, action: 'debit', amount: 1, unit: 'EUR', createIfMissing: true },
    { id: 'after', type: 'email', subject: 'Done', text: 'All done' },
  ],
  // Transfers: through, zero, refused by from's policy, to the same account, to a missing account, from an empty one.
  transfer: [
    { id: 'move', type: 'transfer', from: '{{data.master}}', to: '{{reservation.user.id}}', amountFrom: 'data.amount', unit: 'USD', createIfMissing: true, onError: 'continue' },
    { id: 'stray', type: 'transfer', when: { 'data.stranger': { $exists: true } }, from: '{{data.master}}', to: '{{data.stranger}}', amount: 100, unit: 'USD', onError: 'continue' },
    { id: 'report', type: 'script', code: statusReport },
  ],
  // forEach over the event's items with per-item postings, `when` per item, and items that are not an array.
  'for-each': [
    { id: 'lines', type: 'account', forEach: 'data.items', when: { 'item.skip': { $ne: true } }, action: 'auto', amountFrom: 'item.cents', owner: '{{item.owner}}', unit: 'USD', createIfMissing: true, onError: 'continue' },
    { id: 'total', type: 'script', code: 'return { status: results.lines.status, code: results.lines.error ? results.lines.error.code : null, lines: Array.isArray(tasks.lines) ? tasks.lines.map((line) => line === null ? null : { direction: line.direction, amount: line.amount, balanceAfter: line.balanceAfter }) : null };' },
  ],
  // Script failures: one continued past, a runtime error that stops the run, a bad output, a timeout.
  scripts: [
    { id: 'soft', type: 'script', code: "if (data.boom) {\n  throw new Error('boom');\n}\nreturn { fine: true };", onError: 'continue' },
    { id: 'inspect', type: 'script', code: 'return { soft: results.soft.status, code: results.soft.error ? results.soft.error.code : null, line: results.soft.error && results.soft.error.line !== undefined ? results.soft.error.line : null };' },
    { id: 'hard', type: 'script', code: "if (data.hard) return data.missing.deep;\nif (data.badOutput) return { when: new Date(0), f: () => 1 };\nwhile (data.spin) {}\nreturn 'ok';", timeoutMs: 100 },
    { id: 'after', type: 'email', subject: 'Scripts ran', text: 'Hello {{reservation.user.name}}' },
  ],
};

function freshUser() {
  const id = `u_${randomUUID().slice(0, 8)}`;
  return { id, email: `${id}@example.com`, name: `Ada ${id}` };
}

function orderEvent(trigger: string, reservation: { price: number; currency?: string }, extra: Record<string, unknown> = {}) {
  return {
    id: `evt_${randomUUID()}`,
    type: 'order.placed',
    occurredAt: '2026-11-21T10:00:00Z',
    data: { case: `${trigger}-${tag}`, reservation: { id: `res_${randomUUID().slice(0, 8)}`, price_int: reservation.price, currency: reservation.currency ?? 'USD', user: freshUser() }, ...extra },
  };
}

async function fundedMaster(amount: number): Promise<string> {
  const master = `master_${randomUUID().slice(0, 8)}`;
  const funded = await api.request('POST', `/v1/accounts/${master}/entries`, { unit: 'USD', direction: 'credit', amount, idempotencyKey: `fund-${master}`, createIfMissing: true });
  expect(funded.status).toBe(201);
  return master;
}

/** The output fields a dry run and a real run both have, per task kind; a script's output is compared whole. */
const SHARED_FIELDS: Record<string, string[]> = {
  account: ['ownerId', 'unit', 'direction', 'amount', 'balanceAfter'],
  transfer: ['fromOwnerId', 'toOwnerId', 'unit', 'amount', 'fromBalanceAfter', 'toBalanceAfter'],
  email: ['to', 'subject'],
};

function comparable(type: string, output: unknown): unknown {
  const fields = SHARED_FIELDS[type];
  if (!fields || output === undefined || output === null) return output;
  if (Array.isArray(output)) return output.map((item) => comparable(type, item));
  const record = output as Record<string, unknown>;
  for (const field of fields) expect(record).toHaveProperty(field);
  return Object.fromEntries(fields.map((field) => [field, record[field]]));
}

const STATUS_OF_OUTCOME: Record<string, string> = { would_complete: 'completed', would_skip: 'skipped', would_fail: 'failed' };

interface Compared {
  id: string;
  type: string;
  status: string;
  reason?: string;
  error?: { code: string; line?: number; column?: number };
  output?: unknown;
}

function errorOf(error: { code: string; line?: number; column?: number } | undefined): Compared['error'] {
  if (!error) return undefined;
  return { code: error.code, ...(error.line !== undefined ? { line: error.line } : {}), ...(error.column !== undefined ? { column: error.column } : {}) };
}

function withoutUndefined(task: Compared): Compared {
  return Object.fromEntries(Object.entries(task).filter(([, value]) => value !== undefined)) as unknown as Compared;
}

/** Dry-runs the event against the trigger, sends it for real, and returns both task lists in one comparable shape. */
async function bothRuns(trigger: string, event: ReturnType<typeof orderEvent>) {
  const dryRun = await api.request('POST', `/v1/triggers/${triggerIds.get(trigger)}/dry-run`, { event });
  expect(dryRun.status).toBe(200);
  expect(dryRun.body.matched).toHaveLength(1);
  const dry: Compared[] = dryRun.body.matched[0].tasks.map((task: { id: string; type: string; outcome: string; reason?: string; error?: Compared['error']; output?: unknown }) => withoutUndefined({
    id: task.id, type: task.type, status: STATUS_OF_OUTCOME[task.outcome]!, reason: task.reason, error: errorOf(task.error), output: comparable(task.type, task.output),
  }));

  const accepted = await api.request('POST', '/v1/events', event);
  expect(accepted.status).toBe(202);
  expect(accepted.body.runs).toHaveLength(1);
  const workflowId: string = accepted.body.runs[0].workflowId;
  await worker.client.workflow.getHandle(workflowId).result().catch(() => undefined);
  const run = await api.request('GET', `/v1/runs/${encodeURIComponent(workflowId)}`);
  expect(run.status).toBe(200);
  const real: Compared[] = run.body.tasks.map((task: { id: string; type: string; status: string; skipReason?: string; error?: Compared['error']; output?: unknown }) => withoutUndefined({
    id: task.id, type: task.type, status: task.status, reason: task.skipReason, error: errorOf(task.error), output: task.status === 'completed' ? comparable(task.type, task.output) : undefined,
  }));
  for (const task of dry) seen.add(`${task.type}:${task.status}`);
  return { dry, real, runStatus: run.body.status as string };
}

/** The run fails exactly when a task fails without onError: continue. */
function expectedRunStatus(trigger: string, tasks: Compared[]): string {
  const stops = tasks.some((task, index) => task.status === 'failed' && TRIGGERS[trigger]![index]!.onError !== 'continue');
  return stops ? 'failed' : 'completed';
}

const CASES: Array<[string, string, () => Promise<ReturnType<typeof orderEvent>>]> = [
  ['top-up', 'a $50 package: script, credit, email and a CREDIT bonus', async () => orderEvent('top-up', { price: 5000 })],
  ['top-up', 'a $100 package, occurring at a time with an offset', async () => ({ ...orderEvent('top-up', { price: 10000 }), occurredAt: '2026-11-21T12:00:00.5+02:00' })],
  ['top-up', 'an unknown price: credit and email skipped by when, the bonus by its amount of 0', async () => orderEvent('top-up', { price: 777 })],
  ['amounts', 'a USD deposit and a debit picked by a negative amount', async () => orderEvent('amounts', { price: 5000 }, { adjust: -2000 })],
  ['amounts', 'an EUR deposit and a credit picked by a positive amount', async () => orderEvent('amounts', { price: 1000, currency: 'EUR' }, { adjust: 300 })],
  ['amounts', 'a CREDIT debit beyond the balance: refused, continued, the user told', async () => orderEvent('amounts', { price: 100, currency: 'CREDIT' }, { adjust: -500 })],
  ['amounts', 'a deposit of 0 skipped, so the settling debit finds no account', async () => orderEvent('amounts', { price: 0 }, { adjust: -1 })],
  ['amounts', 'an adjustment of 0 skipped', async () => orderEvent('amounts', { price: 2000 }, { adjust: 0 })],
  ['amounts', 'a strict debit on an empty account fails the run', async () => orderEvent('amounts', { price: 100 }, { adjust: 5, strict: true })],
  ['amounts', 'a currency that is not a unit fails the first task', async () => orderEvent('amounts', { price: 100, currency: 'usd' }, { adjust: 5 })],
  ['amounts', 'an adjustment that is not an integer', async () => orderEvent('amounts', { price: 100 }, { adjust: 1.5 })],
  ['transfer', 'a transfer from a funded master', async () => orderEvent('transfer', { price: 0 }, { master: await fundedMaster(10000), amount: 2500 })],
  ['transfer', 'a transfer of 0', async () => orderEvent('transfer', { price: 0 }, { master: await fundedMaster(10000), amount: 0 })],
  ['transfer', 'a transfer beyond the master balance', async () => orderEvent('transfer', { price: 0 }, { master: await fundedMaster(10000), amount: 50000 })],
  ['transfer', 'a transfer to the account it comes from', async () => {
    const event = orderEvent('transfer', { price: 0 }, { amount: 100 });
    return { ...event, data: { ...event.data, master: event.data.reservation.user.id } };
  }],
  ['transfer', 'a transfer to an account that does not exist', async () => orderEvent('transfer', { price: 0 }, { master: await fundedMaster(10000), amount: 100, stranger: `stranger_${randomUUID().slice(0, 8)}` })],
  ['transfer', 'a transfer from an account that does not exist yet', async () => orderEvent('transfer', { price: 0 }, { master: `master_${randomUUID().slice(0, 8)}`, amount: 100 })],
  ['for-each', 'items credited, debited, skipped by when and by an amount of 0', async () => {
    const [first, second, third] = [freshUser().id, freshUser().id, freshUser().id];
    return orderEvent('for-each', { price: 0 }, { items: [{ owner: first, cents: 500 }, { owner: second, cents: 0 }, { owner: first, cents: 250 }, { owner: third, cents: 900, skip: true }, { owner: first, cents: -300 }] });
  }],
  ['for-each', 'an item whose debit is refused fails the task', async () => orderEvent('for-each', { price: 0 }, { items: [{ owner: freshUser().id, cents: 100 }, { owner: freshUser().id, cents: -1 }] })],
  ['for-each', 'no items', async () => orderEvent('for-each', { price: 0 }, { items: [] })],
  ['for-each', 'items that are not an array', async () => orderEvent('for-each', { price: 0 }, { items: 'three' })],
  ['for-each', 'items missing', async () => orderEvent('for-each', { price: 0 })],
  ['scripts', 'every script succeeds', async () => orderEvent('scripts', { price: 0 })],
  ['scripts', 'a thrown error continued past', async () => orderEvent('scripts', { price: 0 }, { boom: true })],
  ['scripts', 'a runtime error that stops the run', async () => orderEvent('scripts', { price: 0 }, { hard: true })],
  ['scripts', 'an output that is not JSON', async () => orderEvent('scripts', { price: 0 }, { badOutput: true })],
  ['scripts', 'a script that runs out of time', async () => orderEvent('scripts', { price: 0 }, { spin: true })],
];

describe('the dry run and the real run of the same event', () => {
  it.each(CASES)('agree on every task for %s: %s', async (trigger, _case, build) => {
    const { dry, real, runStatus } = await bothRuns(trigger, await build());
    expect(real).toEqual(dry);
    expect(runStatus).toBe(expectedRunStatus(trigger, dry));
  });

  it('covered completing, skipping and failing of every kind the cases claim', () => {
    expect([...seen].sort()).toEqual([
      'account:completed', 'account:failed', 'account:skipped',
      'email:completed', 'email:skipped',
      'script:completed', 'script:failed', 'script:skipped',
      'transfer:completed', 'transfer:failed', 'transfer:skipped',
    ]);
  });
});
