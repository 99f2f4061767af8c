// examples/bill-payment-run (seed 001) played end to end as
// `npm run demo -- bill-run` plays it (devstack/demo-bill-run.ts), on the
// real API, worker, Temporal Schedules, store and SMTP capture, with the
// billing system simulated and the card gateway the local stub over HTTP.
import { randomUUID } from 'node:crypto';
import { apiClient } from '../../devstack/api-client';
import { playBillRun } from '../../devstack/demo-bill-run';
import { adminApi } from '../../devstack/demo-seed';
import { PaymentGatewayStub } from '../../devstack/payment-gateway-stub';
import { TEST_ADMIN_KEY } from '../support/api';
import { startEngineHarness, type EngineHarness } from '../support/engine-harness';
import { waitForMails } from '../support/mailbox';

jest.setTimeout(120_000);

let engine: EngineHarness;
let gateway: PaymentGatewayStub;

beforeAll(async () => {
  gateway = await PaymentGatewayStub.start(async (event) => {
    const response = await engine.api.request('POST', '/v1/events', event);
    if (response.status >= 300) throw new Error(`the gateway's event answered ${response.status}`);
  });
  engine = await startEngineHarness('example_bill_run', { gateways: { card: { url: gateway.url(), secret: 'gwsec_test_0123456789abcdef' } } });
});

afterAll(async () => {
  await engine?.close();
  await gateway?.stop();
});

describe('examples/bill-payment-run (seed 001)', () => {
  it('creates exactly one new request for five bills (two qualify, one has a pending request), settles the paid bill, creates nothing for it again, and emails the customer whose payment failed', async () => {
    const outcome = await playBillRun(apiClient(engine.api.baseUrl, TEST_ADMIN_KEY), adminApi(engine.api.baseUrl, TEST_ADMIN_KEY), randomUUID().slice(0, 8), gateway);

    expect(outcome.earlier).toMatchObject({ status: 'completed', matched: 1, started: 1 });
    // Settled, not recurring and PayPal bills never match; the two card bills do.
    expect(outcome.firing).toMatchObject({ status: 'completed', matched: 2, started: 2 });
    expect(outcome.newRequests.map((request) => request.reference)).toEqual([outcome.bills.due]);
    expect(outcome.newRequests[0]).toMatchObject({ ownerId: outcome.customers.card, amount: 4_200, unit: 'EUR' });
    expect(outcome.runs[outcome.bills.open]!.tasks[0]).toMatchObject({ id: 'pay', status: 'skipped', skipReason: 'request_open' });
    expect(outcome.runs[outcome.bills.open]!.tasks[1]).toMatchObject({ id: 'tell-customer', status: 'skipped' });

    expect(outcome.paidRun.status).toBe('completed');
    expect(outcome.paidRun.tasks.map((task) => `${task.id}:${task.status}`)).toEqual(['pay:completed', 'tell-customer:skipped']);
    expect(outcome.settledBill).toMatchObject({ state: 'settled', version: 2 });

    // Submitted again: the settled bill is no longer matched, the open one is skipped again; no new request for either.
    expect(outcome.again).toMatchObject({ status: 'completed', matched: 1, started: 1 });
    expect(outcome.requestsAfter[outcome.bills.due]!.map((request) => request.state)).toEqual(['succeeded']);
    expect(outcome.requestsAfter[outcome.bills.open]!.map((request) => request.state)).toEqual(['pending']);
    expect(gateway.requests.map((request) => request.reference).sort()).toEqual([outcome.bills.due, outcome.bills.open].sort());

    expect(outcome.failedRun.tasks.map((task) => `${task.id}:${task.status}`)).toEqual(['pay:completed', 'tell-customer:completed']);
    const mails = await waitForMails(`${outcome.customers.card}@example.test`, 1);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toBe(`We could not collect the payment for bill INV-${outcome.bills.open}`);
  });
});
