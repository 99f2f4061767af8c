// The renewal sweep over a few thousand subscriptions in one pass: every
// due one renewed once, the uncovered ones refused, and the time it took
// (the README quotes it); and a pass stopped half-way resumed from its checkpoint.
import { createLedger, type Ledger } from '../../../engine/ledger';
import { createRenewalSweep, type RenewalCheckpoint } from '../../../engine/subscriptions/renewal-sweep';
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

it('resumes a pass stopped after a batch from its checkpoint, with the counts carried over and nothing renewed twice', async () => {
  const own = await openTestStore('renewal_resume');
  try {
    const ownLedger = createLedger({ connection: own.connection });
    const ownSubscriptions = createSubscriptionStore({ connection: own.connection, ledger: ownLedger, ownerKnown: async () => true });
    const count = 500;
    const end = new Date(Date.now() - 60_000);
    await inBatches(count, async (index) => {
      const ownerId = `resume_${String(index).padStart(4, '0')}`;
      await ownLedger.post({ ownerId, unit: 'CREDIT', direction: 'credit', amount: index % 10 === 0 ? 10 : 100, idempotencyKey: `fund:${ownerId}`, createIfMissing: true, source: { kind: 'api', keyId: 'test' } });
      await ownSubscriptions.put(`sub_${String(index).padStart(4, '0')}`, { ownerId, plan, currentPeriodEnd: end, autoRenew: true });
    });
    const mails: string[] = [];
    const renewDue = createRenewalSweep({ subscriptions: ownSubscriptions, emailOf: async (ownerId) => `${ownerId}@example.com`, sendEmail: async (request) => mails.push(request.outboxKey) });

    // The first attempt dies after its first batch, as a worker would; the last checkpoint is what its heartbeat kept.
    let checkpoint: RenewalCheckpoint | undefined;
    const died = new Error('worker died');
    await expect(renewDue({ horizonMs: 0, onBatch: (reached) => { checkpoint = structuredClone(reached); throw died; } })).rejects.toBe(died);
    expect(checkpoint).toMatchObject({ afterId: 'sub_0199', report: { considered: 200, renewed: 180, refused: 20 } });

    const report = await renewDue({ horizonMs: 0, resume: checkpoint! });
    expect(report).toMatchObject({ considered: count, due: count, renewed: count * 0.9, refused: count * 0.1, failed: 0, notified: count * 0.1 });
    expect(new Set(mails).size).toBe(count * 0.1);
    // One debit each: 100 - 30 for the renewed, 10 untouched for the refused, on both sides of the checkpoint.
    for (const index of [1, 199, 201, 499]) expect((await ownLedger.getAccount(`resume_${String(index).padStart(4, '0')}`, 'CREDIT'))!.balance).toBe(70);
    expect((await ownLedger.getAccount('resume_0200', 'CREDIT'))!.balance).toBe(10);
  } finally {
    await own.close();
  }
}, 300_000);
