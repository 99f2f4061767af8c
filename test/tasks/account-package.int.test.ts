// The account task's amountFrom "package": the one active package matching
// the event, snapshotted at match time, on a real API, worker and ledger.
import { randomUUID } from 'node:crypto';
import { startEngineHarness, type EngineHarness } from '../support/engine-harness';

let engine: EngineHarness;

beforeAll(async () => {
  engine = await startEngineHarness('account_package');
});

afterAll(async () => {
  await engine?.close();
});

const unique = (prefix: string) => `${prefix}_${randomUUID().slice(0, 8)}`;
const eventType = () => `${unique('pkg').toLowerCase()}.paid`;
const purchase = (type: string, owner: string, priceInt: number) => ({ id: unique('evt'), type, data: { reservation: { price_int: priceInt, currency: 'USD', user: { id: owner } } } });
const creditTask = { id: 'credit', type: 'account', action: 'credit', amountFrom: 'package', owner: '{{reservation.user.id}}', createIfMissing: true };

async function putPackage(id: string, type: string, priceInt: number, credits: number, unit = 'USD'): Promise<void> {
  const response = await engine.api.request('PUT', `/v1/packages/${id}`, { name: `${priceInt} buys ${credits}`, price: { amount: priceInt, currency: 'USD' }, credits: { amount: credits, unit }, match: { type, 'data.reservation.price_int': priceInt } });
  expect([200, 201]).toContain(response.status);
}

describe('amountFrom "package"', () => {
  it('credits the credits of the one package the event matches, and the run records its id and version', async () => {
    const type = eventType();
    const hundred = unique('topup-100');
    await putPackage(unique('topup-50'), type, 5000, 6000);
    await putPackage(hundred, type, 10000, 15000);
    await engine.createTrigger({ name: 'Packages', on: { types: [type] }, tasks: [creditTask] });
    const owner = unique('user');
    const [run] = (await engine.sendAndSettle(purchase(type, owner, 10000))).runs;
    expect(run!.tasks[0]).toMatchObject({ status: 'completed', output: { ownerId: owner, unit: 'USD', direction: 'credit', amount: 15000, package: { id: hundred, version: 1 } } });
    expect(run!.package).toMatchObject({ status: 'matched', id: hundred, version: 1, credits: { amount: 15000, unit: 'USD' } });
    expect(await engine.balanceOf(owner)).toBe(15000);
  });

  it('credits the version current when the event matched, though the package is edited during the run\'s wait', async () => {
    const type = eventType();
    const id = unique('topup');
    await putPackage(id, type, 5000, 6000);
    await engine.createTrigger({ name: 'Waiting package', on: { types: [type] }, wait: { seconds: 3 }, tasks: [creditTask] });
    const owner = unique('user');
    const posted = await engine.api.request('POST', '/v1/events', purchase(type, owner, 5000));
    expect(posted.status).toBe(202);
    await putPackage(id, type, 5000, 9000);
    expect((await engine.api.request('GET', `/v1/packages/${id}`)).body.version).toBe(2);
    const run = await engine.settledRun(posted.body.runs[0].workflowId);
    expect(run.tasks[0]).toMatchObject({ status: 'completed', output: { amount: 6000, package: { id, version: 1 } } });
    expect(await engine.balanceOf(owner)).toBe(6000);
  });

  it('fails the run with package_ambiguous, crediting nothing, when two active packages match', async () => {
    const type = eventType();
    await putPackage(unique('first'), type, 5000, 6000);
    await putPackage(unique('second'), type, 5000, 7000);
    await engine.createTrigger({ name: 'Ambiguous', on: { types: [type] }, tasks: [creditTask] });
    const owner = unique('user');
    const [run] = (await engine.sendAndSettle(purchase(type, owner, 5000))).runs;
    expect(run).toMatchObject({ status: 'failed', package: { status: 'ambiguous' } });
    expect(run!.tasks[0]).toMatchObject({ status: 'failed', error: { code: 'package_ambiguous' } });
    expect(run!.package.candidates).toHaveLength(2);
    expect(await engine.balanceOf(owner)).toBeNull();
  });

  it('skips the task when no active package matches, and ignores an inactive one', async () => {
    const type = eventType();
    const id = unique('retired');
    await engine.api.request('PUT', `/v1/packages/${id}`, { name: 'Retired', price: { amount: 5000, currency: 'USD' }, credits: { amount: 6000, unit: 'USD' }, match: { type }, active: false });
    await engine.createTrigger({ name: 'None', on: { types: [type] }, tasks: [creditTask] });
    const owner = unique('user');
    const [run] = (await engine.sendAndSettle(purchase(type, owner, 5000))).runs;
    expect(run).toMatchObject({ status: 'completed', package: { status: 'none' } });
    expect(run!.tasks[0]).toMatchObject({ status: 'skipped', skipReason: 'no active package matches the event' });
    expect(await engine.balanceOf(owner)).toBeNull();
  });

  it('is what the dry run shows', async () => {
    const type = eventType();
    const id = unique('dry');
    await putPackage(id, type, 5000, 6000, 'CREDIT');
    const triggerId = await engine.createTrigger({ name: 'Dry', on: { types: [type] }, tasks: [creditTask] });
    const response = await engine.api.request('POST', `/v1/triggers/${triggerId}/dry-run`, { event: purchase(type, unique('user'), 5000) });
    expect(response.status).toBe(200);
    expect(JSON.stringify(response.body)).toContain(`"package":{"id":"${id}","version":1}`);
  });

  it.each([
    ['a unit beside it', { unit: 'USD' }, 'tasks.0.unit'],
    ['a debit', { action: 'debit' }, 'tasks.0.action'],
  ])('refuses %s at save with 422 naming the field', async (_case, extra, path) => {
    const response = await engine.api.request('POST', '/v1/triggers', { name: 'Bad', on: { types: [eventType()] }, tasks: [{ ...creditTask, ...extra }] });
    expect(response.status).toBe(422);
    expect(response.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
  });
});
