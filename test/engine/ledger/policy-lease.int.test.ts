// The policy lease against the real store: once an account's lease has run
// out, the next posting reads again only what can have changed since (the
// account's newest policy version and its group layer), never the account
// document, whose own policy is written once with it (policy-versions.ts).
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLedger, POLICY_LEASE_MS, type Ledger, type PolicyLayer, type PostRequest } from '../../../engine/ledger';
import { refusalCode } from '../../support/refusal';
import { openTestStore } from '../../support/store';

let store: Awaited<ReturnType<typeof openTestStore>>;
let ledger: Ledger;
/** The group layer each owner's reads answer, as a customer directory would (engine/customers/policy-layer.ts). */
const layers = new Map<string, PolicyLayer>();

beforeAll(async () => {
  store = await openTestStore('policy_lease', { recordCommands: true });
  ledger = createLedger({ connection: store.connection, policyLayer: async (ownerId) => layers.get(ownerId) ?? null });
  await ledger.ensureIndexes();
});

afterAll(async () => {
  await store?.close();
});

function posting(ownerId: string, overrides: Partial<PostRequest> = {}): PostRequest {
  return { ownerId, unit: 'USD', direction: 'credit', amount: 100, idempotencyKey: `${ownerId}-${randomBytes(4).toString('hex')}`, createIfMissing: true, source: { kind: 'api', keyId: 'key_test' }, ...overrides };
}

/** The collections read by `find` since the log was cleared, in order. */
function collectionsRead(): unknown[] {
  return store.commands.sent.filter(({ name }) => name === 'find').map(({ command }) => command.find);
}

const owner = () => `lease-${randomBytes(4).toString('hex')}`;

describe('a posting after the policy lease ran out', () => {
  it('reads the newest policy version and the group layer again, not the account document, and applies what changed', async () => {
    const mine = owner();
    await ledger.post(posting(mine, { amount: 500 }));
    // Another process (its own ledger) sets a maximum; a group with a minimum credit takes the owner in.
    await createLedger({ connection: store.connection }).setPolicy(mine, 'USD', { maxBalance: 550 });
    layers.set(mine, { groupId: 'grp_strict', values: { minCredit: 20 } });
    await sleep(POLICY_LEASE_MS + 50);

    store.commands.clear();
    expect(await refusalCode(ledger.post(posting(mine, { amount: 10 })))).toBe('credit_too_small');
    expect(collectionsRead()).toContain('ledger_policy_versions');
    expect(collectionsRead()).not.toContain('ledger_accounts');
    expect(await refusalCode(ledger.post(posting(mine, { amount: 60 })))).toBe('balance_limit');
    expect((await ledger.post(posting(mine, { amount: 50 }))).entry).toMatchObject({ seq: 2, balanceAfter: 550 });
    expect(await ledger.getAccount(mine, 'USD')).toMatchObject({ balance: 550, policyOverrides: { maxBalance: 550 } });
  });

  it('still reads the document of an account this process has not seen', async () => {
    const theirs = owner();
    await createLedger({ connection: store.connection }).post(posting(theirs, { amount: 70 }));

    store.commands.clear();
    expect((await ledger.post(posting(theirs, { direction: 'debit', amount: 20, createIfMissing: false }))).entry).toMatchObject({ seq: 2, balanceAfter: 50 });
    expect(collectionsRead()).toContain('ledger_accounts');
  });
});
