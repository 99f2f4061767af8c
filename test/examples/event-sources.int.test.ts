// The event-source examples (seeds 001-003) played end to end as
// `npm run demo -- <name>` plays them (devstack/demo-event-sources.ts), on
// the real API, worker, balance-event pump, Temporal Schedules and SMTP
// capture: applied through the CLI's apply, with the users, the partner and
// the payment gateway simulated.
import { randomUUID } from 'node:crypto';
import { apiClient, type ApiClient } from '../../devstack/api-client';
import { GatewayStub, playAutoTopUp, playLowBalance, playWalletRun } from '../../devstack/demo-event-sources';
import { adminApi, PARTNER_MASTER_ID } from '../../devstack/demo-seed';
import { endOfLocalDay } from '../../engine/events/run-gates';
import type { ApiClient as CliApi } from '../../cli/api';
import { TEST_ADMIN_KEY } from '../support/api';
import { startEngineHarness, type EngineHarness } from '../support/engine-harness';
import { outboxKeysOf, sentMailTo } from '../support/mailbox';

jest.setTimeout(120_000);

let engine: EngineHarness;
let api: ApiClient;
let cli: CliApi;

beforeAll(async () => {
  engine = await startEngineHarness('example_event_sources', { webhooksTo: ['127.0.0.1'], balanceEvents: true });
  api = apiClient(engine.api.baseUrl, TEST_ADMIN_KEY);
  cli = adminApi(engine.api.baseUrl, TEST_ADMIN_KEY);
});

afterAll(async () => {
  await engine?.close();
});

function stamp(): string {
  return randomUUID().slice(0, 8);
}

describe('examples/low-balance-reminder (seed 003)', () => {
  it('emails the user once when the balance crosses below 20 credits, and not while it stays low', async () => {
    const outcome = await playLowBalance(api, cli, stamp());
    expect(outcome.steps.map((step) => [step.balanceAfter, step.runs.length])).toEqual([[25, 0], [22, 0], [17, 1], [15, 0]]);
    const reminder = outcome.steps[2]!.runs[0]!;
    expect(reminder.status).toBe('completed');
    expect(reminder.tasks.map((task) => `${task.id}:${task.status}`)).toEqual(['remind:completed']);

    // Every balance event was dispatched and every run it started has closed:
    // the later debits, still below the threshold, sent nothing more.
    const { recorded, captured } = await sentMailTo(engine.connection, outcome.owner);
    expect(recorded).toHaveLength(1);
    expect(outboxKeysOf(captured)).toEqual(recorded.map((record) => record._id));
    expect(captured[0]!.subject).toBe('Your balance is down to 17 credits');
    expect(captured[0]!.text).toContain('went down from 22 to 17 credits');
  });
});

describe('examples/auto-top-up (seed 002)', () => {
  it('tops a customer up from the partner master wallet when they cross below their threshold, at most once per calendar day', async () => {
    const before = new Date();
    const outcome = await playAutoTopUp(api, cli, stamp());
    const after = new Date();

    expect(outcome.first.run.status).toBe('completed');
    expect(outcome.first.run.tasks[0]).toMatchObject({ id: 'topup', status: 'completed', output: { fromOwnerId: PARTNER_MASTER_ID, toOwnerId: outcome.customer, amount: 5000, unit: 'USD' } });
    // $20.00 - $12.00 + $50.00.
    expect(outcome.first.balanceAfterTopUp).toBe(5800);

    // The second crossing the same day starts nothing; the event names the customer and when the day ends in Singapore.
    expect(outcome.second.event.runs).toEqual([]);
    expect(outcome.second.event.throttled).toHaveLength(1);
    const throttled = outcome.second.event.throttled[0]!;
    expect(throttled.key).toBe(outcome.customer);
    expect([endOfLocalDay(before, 'Asia/Singapore').toISOString(), endOfLocalDay(after, 'Asia/Singapore').toISOString()]).toContain(throttled.until);
    expect(outcome.second.balance).toBe(800);
    // The top-up's own credit (crossing upwards) and the master wallet's debit started nothing.
    expect(await engine.balanceOf(PARTNER_MASTER_ID)).toBe(100_000 - 5000);
    // A customer with the same settings but auto top-up switched off crosses too: no run, no money moved.
    expect(outcome.optedOutEvent.runs).toEqual([]);
    expect(outcome.optedOutEvent.throttled).toEqual([]);
    expect(await engine.balanceOf(outcome.optedOut)).toBe(800);

    // The dry run matches the filter on the customer's settings as ingestion does.
    const crossing = (ownerId: string) => ({ id: `dry-${ownerId}`, type: 'account.balance_changed', data: { account: { ownerId, unit: 'USD' }, before: 1500, after: 900, entry: { id: 'x', direction: 'debit', amount: 600, source: { kind: 'api', keyId: 'k' } } } });
    const dryOn = await engine.api.request('POST', '/v1/triggers/dry-run', { event: crossing(outcome.customer) });
    expect(dryOn.body.matched.map((match: { triggerKey?: string }) => match.triggerKey)).toEqual(['auto-top-up']);
    const dryOff = await engine.api.request('POST', '/v1/triggers/dry-run', { event: crossing(outcome.optedOut) });
    expect(dryOff.body.matched).toEqual([]);
  });
});

describe('examples/wallet-top-up-run (seed 001)', () => {
  let gateway: GatewayStub;

  beforeAll(async () => {
    gateway = await GatewayStub.start(api, 0);
  });

  afterAll(async () => {
    await gateway?.stop();
  });

  it('asks the gateway for each low wallet, credits the confirmed one, and skips a wallet whose request is still open', async () => {
    const outcome = await playWalletRun(api, cli, stamp(), gateway);

    // Two of the three wallets are at or below EUR 10.00.
    expect(outcome.firstFiring).toMatchObject({ matched: 2, started: 2, throttled: 0, skipped: 0 });
    expect(outcome.requests.map((request) => request.wallet).sort()).toEqual([outcome.wallets.low, outcome.wallets.lower].sort());
    for (const request of outcome.requests) {
      expect(request).toMatchObject({ currency: 'EUR', amount: 5000 });
      expect(request.idempotencyKey).toBe(`${request.paymentRequestId}:request`);
    }

    // The confirmed request's run waited for the gateway, then credited EUR 50.00.
    expect(outcome.paidRun.status).toBe('completed');
    expect(outcome.paidRun.tasks.map((task) => `${task.id}:${task.status}`)).toEqual(['request:completed', 'confirmation:completed', 'credit:completed']);
    expect(outcome.balances[outcome.wallets.low]).toBe(500 + 5000);

    // Submitted again: the paid wallet is above the threshold, the other's request is still open.
    expect(outcome.secondFiring).toMatchObject({ matched: 1, started: 0, skipped: 1 });
    expect(outcome.balances[outcome.wallets.lower]).toBe(800);
    expect(outcome.balances[outcome.wallets.funded]).toBe(3000);
    expect(gateway.requests.filter((request) => request.wallet === outcome.wallets.lower)).toHaveLength(1);

    // Once the gateway confirms the open one, its run completes and credits it.
    const open = outcome.requests.find((request) => request.wallet === outcome.wallets.lower)!;
    await gateway.confirm(open);
    await engine.settledRun(open.paymentRequestId);
    expect(await engine.balanceOf(outcome.wallets.lower, 'EUR')).toBe(800 + 5000);
  });
});
