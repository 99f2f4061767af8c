// The bill payment run (examples/bill-payment-run, seed 001) played against
// a running API and worker: `npm run demo -- bill-run`. It plays the billing
// system (bills as `bill.updated` events, the settlement after a payment)
// and the card gateway (devstack/payment-gateway-stub.ts), and returns what
// happened, which the demo prints and the example's end-to-end test checks.
import type { ApiClient as CliApi } from '../cli/api';
import type { ApiClient } from './api-client';
import { applyResources, closedRun, exampleResources, fireNow, ok, until, type FiringView, type RunView } from './demo-event-sources';
import type { PaymentGatewayStub, SubmittedRequest } from './payment-gateway-stub';

export const BILL_RUN_FOLDER = 'examples/bill-payment-run';

interface Bill { id: string; number: string; accountsReceivable: string; state: string; amountDue: number; currency: string; dueDate: string; version: number }
interface PaymentRequestView { id: string; reference: string; state: string; workflowId: string }

/** The billing system tells Creditflow about a bill; the bill-sync trigger records it. */
async function sendBill(api: ApiClient, bill: Bill): Promise<void> {
  const event = await ok<{ runs: Array<{ workflowId: string }> }>(api, [202, 200], 'POST', '/v1/events', { id: `bill_${bill.id}_v${bill.version}`, type: 'bill.updated', data: { bill } });
  for (const run of event.runs) {
    const closed = await closedRun(api, run.workflowId);
    if (closed.status !== 'completed') throw new Error(`recording bill ${bill.id} ${closed.status}: ${JSON.stringify(closed.tasks)}`);
  }
}

async function requestsFor(api: ApiClient, reference: string): Promise<PaymentRequestView[]> {
  return (await ok<{ items: PaymentRequestView[] }>(api, [200], 'GET', `/v1/payment-requests?reference=${encodeURIComponent(reference)}`)).items;
}

export interface BillRunOutcome {
  triggerId: string;
  customers: { card: string; notRecurring: string; paypal: string };
  bills: Record<'due' | 'open' | 'settled' | 'notRecurring' | 'paypal', string>;
  /** The firing that only the bill with the open request matched (its request reached the gateway). */
  earlier: FiringView;
  /** The firing over all five bills, and what each matching bill's run did. */
  firing: FiringView;
  runs: Record<string, RunView>;
  /** Requests the gateway got from that firing. */
  newRequests: SubmittedRequest[];
  /** After the gateway confirmed the new request and the billing system settled the bill. */
  paidRun: RunView;
  settledBill: { state: string; version: number };
  /** Submitted again: nothing new for the settled bill, the open one still skipped. */
  again: FiringView;
  requestsAfter: Record<string, PaymentRequestView[]>;
  /** The open request failed at the gateway: its run emailed the customer. */
  failedRun: RunView;
}

/**
 * Five bills: one due (card, recurring), one partially settled whose earlier
 * request is still open, one settled, one of a customer without recurring
 * payments, one of a PayPal customer. The run creates exactly one new
 * request; the gateway confirms it, the billing system settles the bill,
 * and the next submission creates nothing for it. The open request then
 * fails, and its customer gets an email.
 */
export async function playBillRun(api: ApiClient, cli: CliApi, stamp: string, gateway: PaymentGatewayStub, log: (line: string) => void = () => undefined): Promise<BillRunOutcome> {
  const customers = { card: `ar_${stamp}_card`, notRecurring: `ar_${stamp}_norec`, paypal: `ar_${stamp}_paypal` };
  const profiles: Record<string, { paymentPreference: string; useForRecurringPayments: boolean }> = {
    [customers.card]: { paymentPreference: 'card', useForRecurringPayments: true },
    [customers.notRecurring]: { paymentPreference: 'card', useForRecurringPayments: false },
    [customers.paypal]: { paymentPreference: 'paypal', useForRecurringPayments: true },
  };
  for (const [ownerId, attributes] of Object.entries(profiles)) {
    await ok(api, [200, 201], 'PUT', `/v1/customers/${encodeURIComponent(ownerId)}`, { email: `${ownerId}@example.test`, name: ownerId, attributes });
  }
  const applied = (await applyResources(cli, exampleResources(BILL_RUN_FOLDER))).filter((result) => result.kind === 'trigger');
  for (const result of applied) log(`  trigger ${result.name}: ${result.action}`);
  const triggerId = applied.find((result) => result.file.endsWith('bill-payment-run/trigger.yaml'))!.id!;

  const bill = (id: string, accountsReceivable: string, state: string, amountDue: number): Bill => ({ id: `${stamp}-${id}`, number: `INV-${stamp}-${id}`, accountsReceivable, state, amountDue, currency: 'EUR', dueDate: '2026-12-31', version: 1 });
  const open = bill('2', customers.card, 'partially_settled', 1_500);
  // An earlier run already asked the gateway for this bill; the request is still pending.
  await sendBill(api, open);
  const earlier = await fireNow(api, triggerId);
  await until('the earlier request at the gateway', () => gateway.requests.find((request) => request.reference === open.id));
  log(`  earlier run: a payment request for ${open.number} is pending at the gateway`);

  const due = bill('1', customers.card, 'unsettled', 4_200);
  const others = [due, bill('3', customers.card, 'settled', 0), bill('4', customers.notRecurring, 'unsettled', 3_000), bill('5', customers.paypal, 'unsettled', 2_000)];
  for (const each of others) await sendBill(api, each);
  log(`  billing system: 5 bills recorded (${[open, ...others].map((each) => `${each.number} ${each.state}`).join(', ')})`);

  const before = gateway.requests.length;
  const firing = await fireNow(api, triggerId);
  const runOf = (each: Bill) => `${triggerId}:${firing.firingId}:bill:${each.id}`;
  // The open bill's run skips its request and ends; the due bill's waits for the gateway.
  const runs: Record<string, RunView> = { [open.id]: await closedRun(api, runOf(open)) };
  const newRequest = await until('the new request at the gateway', () => gateway.requests.find((request) => request.reference === due.id));
  const newRequests = gateway.requests.slice(before);
  log(`  submitted now: ${firing.matched} bill(s) matched, ${firing.started} run(s); ${newRequests.length} new payment request(s); ${open.number}: ${runs[open.id]!.tasks[0]!.status} (${runs[open.id]!.tasks[0]!.skipReason ?? ''})`);

  await gateway.succeed(newRequest.paymentRequestId);
  const paidRun = await closedRun(api, runOf(due));
  runs[due.id] = paidRun;
  // The billing system books the payment and settles the bill.
  await sendBill(api, { ...due, state: 'settled', amountDue: 0, version: 2 });
  const settledBill = await ok<{ state: string; version: number }>(api, [200], 'GET', `/v1/records/bill/${encodeURIComponent(due.id)}`);
  log(`  gateway confirmed ${due.number}: run ${paidRun.status}; billing system settled it (version ${settledBill.version})`);

  const again = await fireNow(api, triggerId);
  const requestsAfter = Object.fromEntries(await Promise.all([due, open].map(async (each) => [each.id, await requestsFor(api, each.id)] as const)));
  log(`  submitted again: ${again.matched} matched, ${again.started} started; requests for ${due.number}: ${requestsAfter[due.id]!.length}, for ${open.number}: ${requestsAfter[open.id]!.length}`);

  const [openRequest] = await requestsFor(api, open.id);
  await gateway.fail(openRequest!.id, 'card_declined');
  const failedRun = await closedRun(api, openRequest!.workflowId);
  log(`  gateway declined ${open.number}: the customer was emailed (${failedRun.tasks.map((task) => `${task.id}:${task.status}`).join(', ')})`);

  return {
    triggerId, customers,
    bills: { due: due.id, open: open.id, settled: others[1]!.id, notRecurring: others[2]!.id, paypal: others[3]!.id },
    earlier, firing, runs, newRequests, paidRun, settledBill, again, requestsAfter, failedRun,
  };
}
