// The renewal sweep over a few thousand subscriptions in one pass: every
// due one renewed once, the uncovered ones refused, and the time it took
// (the README quotes it).
import { createLedger, type Ledger } from '../../../engine/ledger';
import { createRenewalSweep } from '../../../engine/subscriptions/renewal-sweep';
import { createSubscriptionStore, type SubscriptionStore } from '../../../engine/subscriptions/subscription-store';
import { openTestStore } from '../../support/store';

let store: Awaited<ReturnType<typeof openTestStore>>;
let ledger: Ledger;
let subscriptions: SubscriptionStore;

const COUNT = 2_000;
const plan = { name: 'Pro', price: { amount: 30, unit: 'CREDIT' }, periodDays: 30 };

beforeAll(async () => {
  store = await openTestStore('renewal_scale');
  ledger = createLedger({ connection: store.connection });
  await ledger.ensureIndexes();
  subscriptions = createSubscriptionStore({ connection: store.connection, ledger, ownerKnown: async () => true });
  await subscriptions.ensureIndexes();
});
afterAll(async () => {
  await store?.close();
});

async function inBatches(count: number, work: (index: number) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < count; start += 16) {
    await Promise.all(Array.from({ length: Math.min(16, count - start) }, (_, offset) => work(start + offset)));
  }
}

it(`renews ${COUNT} due subscriptions in one pass, each once`, async () => {
  const end = new Date(Date.now() - 60_000);
  // Every tenth owner holds 10 credits, less than the price: refused.
  await inBatches(COUNT, async (index) => {
    const ownerId = `owner_${String(index).padStart(5, '0')}`;
    await ledger.post({ ownerId, unit: 'CREDIT', direction: 'credit', amount: index % 10 === 0 ? 10 : 100, idempotencyKey: `fund:${ownerId}`, createIfMissing: true, source: { kind: 'api', keyId: 'test' } });
    await subscriptions.put(`sub_${String(index).padStart(5, '0')}`, { ownerId, plan, currentPeriodEnd: end, autoRenew: true });
  });
  const mails: string[] = [];
  const renewDue = createRenewalSweep({ subscriptions, emailOf: async (ownerId) => `${ownerId}@example.com`, sendEmail: async (request) => mails.push(request.outboxKey) });

  const startedMs = Date.now();
  const report = await renewDue({ horizonMs: 0 });
  const elapsedMs = Date.now() - startedMs;
  process.stdout.write(`renewal sweep: ${COUNT} subscriptions in ${elapsedMs} ms (${Math.round(COUNT / (elapsedMs / 1000))}/s)\n`);

  expect(report).toMatchObject({ considered: COUNT, due: COUNT, renewed: COUNT * 0.9, refused: COUNT * 0.1, failed: 0 });
  expect(report.refusals).toHaveLength(100);
  expect(mails).toHaveLength(COUNT * 0.1);
  expect((await ledger.getAccount('owner_00001', 'CREDIT'))!.balance).toBe(70);
  expect((await ledger.getAccount('owner_00000', 'CREDIT'))!.balance).toBe(10);

  // A second pass: nothing is due any more but the refused, which are refused again and not renewed.
  const again = await renewDue({ horizonMs: 0 });
  expect(again).toMatchObject({ due: COUNT * 0.1, renewed: 0, refused: COUNT * 0.1 });
  expect((await ledger.getAccount('owner_00001', 'CREDIT'))!.balance).toBe(70);
}, 600_000);
