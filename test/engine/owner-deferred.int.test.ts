import { randomUUID } from 'node:crypto';
import { startEngineHarness, type EngineHarness } from '../support/engine-harness';
import { waitForMails } from '../support/mailbox';

let harness: EngineHarness;

beforeAll(async () => {
  harness = await startEngineHarness('owner_deferred', { recordCommands: true });
  await harness.api.request('PUT', '/v1/customers/deferred_ada', { name: 'Ada Lovelace', email: 'ada@example.com' });
  await harness.api.request('POST', '/v1/accounts/deferred_ada/entries', { unit: 'USD', direction: 'credit', amount: 300, idempotencyKey: 'seed-deferred-ada', createIfMissing: true });
}, 120_000);
afterAll(async () => {
  await harness?.close();
});

/** The collections the commands sent since `from` read with `find`. */
function collectionsFound(from: number): string[] {
  return harness.commands.sent.slice(from).filter((command) => command.name === 'find').map((command) => String(command.command.find));
}

it('a run whose trigger names neither customer nor account does not read them', async () => {
  const to = `plain-${randomUUID()}@example.com`;
  await harness.createTrigger({
    name: 'Plain note',
    on: { types: ['note.plain'] },
    tasks: [
      { id: 'compute', type: 'script', code: "return { vars: { WHO: data.ownerId + ' (Account team)' } };" },
      { id: 'mail', type: 'email', inputTaskId: 'compute', to, subject: 'Note', text: 'For {{WHO}}' },
    ],
  });
  const from = harness.commands.sent.length;
  const { runs } = await harness.sendAndSettle({ id: `plain-${randomUUID()}`, type: 'note.plain', data: { ownerId: 'deferred_ada' } });
  expect(runs[0]).toMatchObject({ status: 'completed' });
  expect((await waitForMails(to, 1))[0]?.text).toContain('For deferred_ada (Account team)');
  const found = collectionsFound(from);
  expect(found).not.toContain('customers');
  expect(found).not.toContain('ledger_accounts');
}, 60_000);

it('its email reads them as it renders when the named template uses them', async () => {
  const to = `templated-${randomUUID()}@example.com`;
  const template = `owner-note-${randomUUID().slice(0, 8)}`;
  expect((await harness.api.request('POST', '/v1/templates', { name: template, subject: 'Hello {{customer.name}}', text: 'Your balance: {{account.balance}} {{account.unit}}' })).status).toBe(201);
  await harness.createTrigger({
    name: 'Templated note',
    on: { types: ['note.templated'] },
    tasks: [{ id: 'mail', type: 'email', to, template }],
  });
  const { runs } = await harness.sendAndSettle({ id: `templated-${randomUUID()}`, type: 'note.templated', data: { ownerId: 'deferred_ada' } });
  expect(runs[0]).toMatchObject({ status: 'completed', tasks: [{ id: 'mail', status: 'completed' }] });
  const [mail] = await waitForMails(to, 1);
  expect(mail?.subject).toBe('Hello Ada Lovelace');
  expect(mail?.text).toContain('Your balance: 300 USD');
}, 60_000);

it('a run whose trigger names the customer carries the profile as it was when the event arrived', async () => {
  await harness.createTrigger({
    name: 'Named owner',
    on: { types: ['note.named'] },
    tasks: [{ id: 'seen', type: 'script', code: 'return { name: customer ? customer.name : null };' }],
  });
  const { runs } = await harness.sendAndSettle({ id: `named-${randomUUID()}`, type: 'note.named', data: { ownerId: 'deferred_ada' } });
  expect(runs[0]).toMatchObject({ status: 'completed', tasks: [{ id: 'seen', output: { name: 'Ada Lovelace' } }] });
}, 60_000);

it('a throttle keyed on the owner\'s account reads it, so each owner has a window of their own', async () => {
  for (const owner of ['throttle_ann', 'throttle_ben']) {
    await harness.api.request('POST', `/v1/accounts/${owner}/entries`, { unit: 'USD', direction: 'credit', amount: 100, idempotencyKey: `seed-${owner}`, createIfMissing: true });
  }
  await harness.createTrigger({
    name: 'One visit credit per owner a minute',
    on: { types: ['visit.logged'] },
    throttle: { key: '{{account.ownerId}}', minIntervalSeconds: 60 },
    tasks: [{ id: 'noop', type: 'script', code: 'return 1;' }],
  });
  const visit = (ownerId: string) => harness.sendAndSettle({ id: `visit-${randomUUID()}`, type: 'visit.logged', data: { ownerId } });
  const [annFirst, benFirst] = [await visit('throttle_ann'), await visit('throttle_ben')];
  const annSecond = await visit('throttle_ann');
  expect(annFirst.runs).toHaveLength(1);
  expect(benFirst.runs).toHaveLength(1);
  expect(annSecond.runs).toHaveLength(0);
  expect(annSecond.body.throttled).toEqual([expect.objectContaining({ key: 'throttle_ann' })]);
}, 60_000);
