import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { createLedger } from '../../../engine/ledger';
import { startTestApi, type TestApi } from '../../support/api';
import { startApiProcess, type ApiProcess } from '../../support/api-process';
import { openTestStore } from '../../support/store';

let store: Awaited<ReturnType<typeof openTestStore>>;
let api: TestApi;
// A second API replica: the API entry in a process of its own, on the same database.
let second: ApiProcess;

const lazyTemporal = () => new Client({ connection: Connection.lazy({ address: process.env.TEMPORAL_ADDRESS ?? '' }) });

beforeAll(async () => {
  store = await openTestStore('customers');
  const taskQueue = `test-${randomUUID()}`;
  api = await startTestApi({ store: store.connection, temporal: lazyTemporal(), taskQueue });
  second = await startApiProcess({ storeUri: store.uri, dbName: store.dbName, taskQueue });
});
afterAll(async () => {
  await second?.stop();
  await api?.close();
  await store?.close();
});

const agents = { name: 'New agents', openingBalance: { CREDIT: 10 } };

async function entriesOf(ownerId: string, unit = 'CREDIT') {
  return (await api.request('GET', `/v1/accounts/${ownerId}/entries?unit=${unit}`)).body.items as Array<Record<string, unknown>>;
}

describe('groups', () => {
  it('are created, replaced, read and listed', async () => {
    const created = await api.request('PUT', '/v1/groups/agents-a', { ...agents, policy: { CREDIT: { minCredit: 5, maxBalance: 1000 } } });
    expect(created).toMatchObject({ status: 201, body: { id: 'agents-a', name: 'New agents', openingBalance: { CREDIT: 10 }, policy: { CREDIT: { minCredit: 5, maxBalance: 1000 } } } });
    const replaced = await api.request('PUT', '/v1/groups/agents-a', { name: 'Agents' });
    expect(replaced).toMatchObject({ status: 200, body: { name: 'Agents', openingBalance: {}, policy: {}, createdAt: created.body.createdAt } });
    expect((await api.request('GET', '/v1/groups/agents-a')).body.name).toBe('Agents');
    expect((await api.request('GET', '/v1/groups')).body.items.map((g: { id: string }) => g.id)).toContain('agents-a');
  });

  it.each([
    ['an opening balance over the ledger\'s limit of one posting', { openingBalance: { CREDIT: 1_000_000_000_001 } }, 'opening_balance_invalid', 'openingBalance.CREDIT'],
    ['a zero opening balance', { openingBalance: { USD: 0 } }, 'opening_balance_invalid', 'openingBalance.USD'],
    ['an opening balance above the group\'s own maxBalance', { openingBalance: { USD: 5000 }, policy: { USD: { maxBalance: 1000 } } }, 'opening_balance_over_limit', 'openingBalance.USD'],
    ['a negative minCredit', { policy: { USD: { minCredit: -1 } } }, 'min_credit_invalid', 'policy.USD.minCredit'],
    ['a maxBalance under the minBalance', { policy: { USD: { minBalance: 0, maxBalance: -5 } } }, 'max_balance_invalid', 'policy.USD.maxBalance'],
    ['a unit that is no unit', { openingBalance: { dollars: 5 } }, 'unit_invalid', 'openingBalance.dollars'],
  ])('refuse %s with 422 naming the field, writing nothing', async (_case, extra, code, path) => {
    const response = await api.request('PUT', '/v1/groups/refused', { name: 'Refused', ...extra });
    expect(response).toMatchObject({ status: 422, body: { code, errors: [{ path }] } });
    expect((await api.request('GET', '/v1/groups/refused')).status).toBe(404);
  });

  it('cannot be deleted while a customer is in it (409), and can once it is empty', async () => {
    await api.request('PUT', '/v1/groups/busy', { name: 'Busy' });
    await api.request('PUT', '/v1/customers/busy_member', { groupId: 'busy' });
    expect(await api.request('DELETE', '/v1/groups/busy')).toMatchObject({ status: 409, body: { code: 'group_in_use' } });
    expect((await api.request('GET', '/v1/groups/busy')).status).toBe(200);
    await api.request('PUT', '/v1/customers/busy_member', {});
    expect((await api.request('DELETE', '/v1/groups/busy')).status).toBe(204);
    expect((await api.request('GET', '/v1/groups/busy')).status).toBe(404);
    expect(await api.request('PUT', '/v1/customers/busy_member', { groupId: 'busy' })).toMatchObject({ status: 422, body: { code: 'group_not_found', errors: [{ path: 'groupId' }] } });
  });

  it('never leave a customer in a deleted group when DELETE and customer PUTs race across two APIs', async () => {
    for (let round = 0; round < 8; round += 1) {
      const groupId = `racing-${round}`;
      await api.request('PUT', `/v1/groups/${groupId}`, { name: 'Racing' });
      const [deleted, ...puts] = await Promise.all([
        second.request('DELETE', `/v1/groups/${groupId}`),
        api.request('PUT', `/v1/customers/racer_${round}_a`, { groupId }),
        second.request('PUT', `/v1/customers/racer_${round}_b`, { groupId }),
      ]);
      const groupGone = (await api.request('GET', `/v1/groups/${groupId}`)).status === 404;
      expect([204, 409]).toContain(deleted!.status);
      expect(groupGone).toBe(deleted!.status === 204);
      for (const [index, put] of puts.entries()) {
        expect([201, 409, 422]).toContain(put.status);
        const stored = await api.request('GET', `/v1/customers/racer_${round}_${index === 0 ? 'a' : 'b'}`);
        // A customer the API accepted is in the group, and the group then still exists.
        if (put.status === 201) expect({ group: stored.body.groupId, groupGone }).toEqual({ group: groupId, groupGone: false });
        else expect(stored.status).toBe(404);
      }
    }
  });
});

describe('customers', () => {
  it('are created with a profile, replaced, read and listed by group', async () => {
    await api.request('PUT', '/v1/groups/profiles', { name: 'Profiles' });
    const profile = { email: 'ada@example.com', name: 'Ada', groupId: 'profiles', attributes: { tier: 'gold' }, autoTopUp: { enabled: true, threshold: 500, amount: 2000, unit: 'USD' } };
    const created = await api.request('PUT', '/v1/customers/ada', profile);
    expect(created).toMatchObject({ status: 201, body: { ownerId: 'ada', ...profile, openingBalance: null } });
    expect(await api.request('PUT', '/v1/customers/ada', { ...profile, name: 'Ada L.' })).toMatchObject({ status: 200, body: { name: 'Ada L.', createdAt: created.body.createdAt } });
    expect(await api.request('GET', '/v1/customers/ada')).toMatchObject({ status: 200, body: { name: 'Ada L.', autoTopUp: { threshold: 500 } } });
    await api.request('PUT', '/v1/customers/bob', { name: 'Bob' });
    const listed = await api.request('GET', '/v1/customers?groupId=profiles');
    expect(listed.body.items.map((c: { ownerId: string }) => c.ownerId)).toEqual(['ada']);
    expect((await api.request('GET', '/v1/customers/nobody')).status).toBe(404);
  });

  it('keep attributes whose keys no store takes as field names ($-prefixed, dotted) as sent', async () => {
    const attributes = { $where: 'x', 'a.b': 2, nested: { $gt: 1 }, list: [{ '$ref': 'y' }] };
    expect(await api.request('PUT', '/v1/customers/odd_keys', { attributes })).toMatchObject({ status: 201, body: { attributes } });
    expect((await api.request('GET', '/v1/customers/odd_keys')).body.attributes).toEqual(attributes);
  });

  it('refuse an unknown group with 422 naming groupId, writing nothing', async () => {
    expect(await api.request('PUT', '/v1/customers/lost', { groupId: 'no-such-group' })).toMatchObject({ status: 422, body: { code: 'group_not_found', errors: [{ path: 'groupId' }] } });
    expect((await api.request('GET', '/v1/customers/lost')).status).toBe(404);
  });

  it('refuse a bad autoTopUp with 422 naming the field', async () => {
    expect(await api.request('PUT', '/v1/customers/bad_topup', { autoTopUp: { enabled: true, threshold: 0, amount: 0, unit: 'USD' } })).toMatchObject({ status: 422, body: { errors: [{ path: 'autoTopUp.amount' }] } });
    expect(await api.request('PUT', '/v1/customers/bad_topup', { autoTopUp: { enabled: true, threshold: 0, amount: 5, unit: 'usd' } })).toMatchObject({ status: 422, body: { code: 'unit_invalid' } });
  });
});

describe('opening balances', () => {
  it('credit each unit once, the first time a customer is in a group with one; moving groups never grants again', async () => {
    await api.request('PUT', '/v1/groups/opening-a', { name: 'A', openingBalance: { CREDIT: 10, USD: 500 } });
    await api.request('PUT', '/v1/groups/opening-b', { name: 'B', openingBalance: { CREDIT: 25 } });
    const first = await api.request('PUT', '/v1/customers/newbie', { groupId: 'opening-a' });
    expect(first.body.openingBalance).toEqual({ groupId: 'opening-a', amounts: { CREDIT: 10, USD: 500 } });
    expect(await entriesOf('newbie')).toEqual([expect.objectContaining({ amount: 10, direction: 'credit', idempotencyKey: 'opening:CREDIT:newbie', source: { kind: 'opening', groupId: 'opening-a' } })]);
    expect((await api.request('GET', '/v1/accounts/newbie?unit=USD')).body.balance).toBe(500);

    await api.request('PUT', '/v1/customers/newbie', { groupId: 'opening-a', name: 'Same group again' });
    await api.request('PUT', '/v1/customers/newbie', { groupId: 'opening-b' });
    await api.request('PUT', '/v1/customers/newbie', {});
    await api.request('PUT', '/v1/customers/newbie', { groupId: 'opening-a' });
    expect(await entriesOf('newbie')).toHaveLength(1);
    expect((await api.request('GET', '/v1/customers/newbie')).body.openingBalance).toEqual({ groupId: 'opening-a', amounts: { CREDIT: 10, USD: 500 } });
  });

  it('are granted on joining a group with one later, after time in a group without', async () => {
    await api.request('PUT', '/v1/groups/no-opening', { name: 'None' });
    await api.request('PUT', '/v1/groups/opening-late', { name: 'Late', openingBalance: { CREDIT: 7 } });
    await api.request('PUT', '/v1/customers/late', { groupId: 'no-opening' });
    expect((await api.request('GET', '/v1/accounts/late?unit=CREDIT')).status).toBe(404);
    await api.request('PUT', '/v1/customers/late', { groupId: 'opening-late' });
    expect((await api.request('GET', '/v1/accounts/late?unit=CREDIT')).body.balance).toBe(7);
  });

  it('cannot be pre-empted by a client posting under the opening key', async () => {
    const squat = await api.request('POST', '/v1/accounts/squatted/entries', { unit: 'CREDIT', direction: 'credit', amount: 1, idempotencyKey: 'opening:CREDIT:squatted', createIfMissing: true });
    expect(squat.status).toBe(201);
    await api.request('PUT', '/v1/groups/opening-sq', { name: 'Sq', openingBalance: { CREDIT: 10 } });
    await api.request('PUT', '/v1/customers/squatted', { groupId: 'opening-sq' });
    expect((await api.request('GET', '/v1/accounts/squatted?unit=CREDIT')).body.balance).toBe(11);
  });

  it('are credited exactly once when two APIs race on PUTs of the same customers, into different groups', async () => {
    await api.request('PUT', '/v1/groups/race-a', { name: 'A', openingBalance: { CREDIT: 10 } });
    await api.request('PUT', '/v1/groups/race-b', { name: 'B', openingBalance: { CREDIT: 30 } });
    const owners = Array.from({ length: 12 }, (_, i) => `racer_${i}`);
    const responses = await Promise.all(owners.flatMap((owner) => [
      api.request('PUT', `/v1/customers/${owner}`, { groupId: 'race-a' }),
      second.request('PUT', `/v1/customers/${owner}`, { groupId: 'race-a', name: 'twin' }),
      second.request('PUT', `/v1/customers/${owner}`, { groupId: 'race-b' }),
    ]));
    expect(responses.map((r) => r.status).every((s) => s === 200 || s === 201)).toBe(true);
    for (const owner of owners) {
      const entries = await entriesOf(owner);
      expect(entries).toHaveLength(1);
      const granted = (await api.request('GET', `/v1/customers/${owner}`)).body.openingBalance;
      // Whichever group claimed first is the one granted, and the balance says so.
      expect(entries[0]).toMatchObject({ amount: granted.amounts.CREDIT, source: { kind: 'opening', groupId: granted.groupId } });
    }
    const report = await createLedger({ connection: store.connection }).verify();
    expect(report.broken).toEqual([]);
  });
});
