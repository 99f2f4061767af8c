import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import pino from 'pino';
import { createActivities } from '../../../activities';
import { BalancePump } from '../../../engine/events/balance-pump';
import { createEventIngestor } from '../../../engine/events/ingest';
import { httpGateways } from '../../../engine/payments/gateway';
import { createWebhookSender } from '../../../engine/webhooks';
import { PaymentGatewayStub } from '../../../devstack/payment-gateway-stub';
import { createLedger } from '../../../engine/ledger';
import { createSmtpMailer } from '../../../engine/mail/mailer';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../../../engine/mail/templates';
import { createTriggerStore } from '../../../engine/triggers/trigger-store';
import { createSandbox } from '../../../scripts-sandbox';
import { runStateQuery } from '../../../workflows';
import { MAX_CHAIN_DEPTH } from '../../../workflows/chain-depth';
import { startTestApi } from '../../support/api';
import { openTestStore } from '../../support/store';
import { startTestWorker } from '../../support/temporal';
import { purchaseEvent, topUpTrigger } from '../../support/top-up';

/**
 * The runs whose histories are kept for replay: the documented top-up
 * ($50 credited and mailed), one cancelled in its window, a price that
 * matches no package (the credit skipped), a script error, a forEach with a
 * refusal that onError lets pass, a wait_for_event released by a later
 * event, a run of a balance change (cause and account in its input), and
 * the run past the chain depth limit (chain_too_deep), and payment_request
 * runs against the gateway stub: confirmed (succeeded), failed by the
 * gateway's event (an email follows), and refused at submit
 * (gateway_refused), and cancellations out of order: one held before its
 * purchase, one after the tasks answered by onLateCancel. Returns each
 * scenario's workflow id once the run has closed.
 */
export async function recordScenarios(): Promise<Record<string, string>> {
  const store = await openTestStore('histories');
  const sandbox = createSandbox();
  const mailer = createSmtpMailer(process.env.SMTP_URL!, 'Creditflow <no-reply@creditflow.test>');
  const ledger = createLedger({ connection: store.connection });
  // The gateway stub posts its outcomes to the API, started below.
  let postEvent: (event: unknown) => Promise<unknown> = async () => undefined;
  const gatewayStub = await PaymentGatewayStub.start(async (event) => {
    await postEvent(event);
  }, { refuse: (request) => (request.reference.startsWith('declined-') ? 'card_expired' : undefined) });
  const gateways = httpGateways({ card: { url: gatewayStub.url(), secret: 'gwsec_histories_0123456789' } }, createWebhookSender({ allowedHosts: ['127.0.0.1'] }));
  const worker = await startTestWorker(createActivities({ connection: store.connection, sandbox, ledger, mailer, templates: fileTemplateCatalog(BUNDLED_TEMPLATES_DIR), gateways }));
  const api = await startTestApi({ store: store.connection, temporal: worker.client, taskQueue: worker.taskQueue });
  postEvent = (event) => api.request('POST', '/v1/events', event);
  const silent = pino({ level: 'silent' });
  const ingestor = createEventIngestor({ connection: store.connection, triggers: createTriggerStore(store.connection), temporal: worker.client, taskQueue: worker.taskQueue, logger: silent });
  const balancePump = new BalancePump({ outbox: ledger.balanceChanges, ingest: ingestor.ingest, logger: silent, pollIntervalMs: 100 });
  balancePump.start();
  try {
    const resource = `top-up-${randomUUID().slice(0, 8)}`;
    await api.request('POST', '/v1/triggers', topUpTrigger(resource, 0));
    const windowed = `${resource}-window`;
    await api.request('POST', '/v1/triggers', topUpTrigger(windowed, 60));
    // A short window, then the tasks: the run records that they began (tasksBegin) before they run in the worker.
    const shortWindow = `${resource}-short`;
    await api.request('POST', '/v1/triggers', topUpTrigger(shortWindow, 1));
    const broken = `${resource}-broken`;
    await api.request('POST', '/v1/triggers', topUpTrigger(broken, 0, 'return reservation.nothing.here;'));

    const runOf = async (event: unknown) => (await api.request('POST', '/v1/events', event)).body.runs[0].workflowId as string;
    const topUp = await runOf(purchaseEvent(resource, 5000));
    const unmatched = await runOf(purchaseEvent(resource, 4200));
    const afterWindow = await runOf(purchaseEvent(shortWindow, 5000));
    const failing = await runOf(purchaseEvent(broken, 5000));
    const purchase = purchaseEvent(windowed, 5000);
    const cancelled = await runOf(purchase);
    await api.request('POST', '/v1/events', purchaseEvent(windowed, 5000, purchase.data.reservation.user, 'request.cancelled', purchase.data.reservation.id));

    // Task control and the kinds that wait: forEach with onError, and wait_for_event released by a later event.
    const control = `control${randomUUID().slice(0, 8)}.created`;
    await api.request('POST', '/v1/triggers', {
      name: 'Split and charge', on: { types: [control] },
      tasks: [
        { id: 'split', type: 'account', forEach: 'data.items', action: 'credit', amountFrom: 'item.amount', owner: '{{item.owner}}', createIfMissing: true, unit: 'USD' },
        { id: 'charge', type: 'account', action: 'debit', amount: 1_000_000, owner: '{{data.items.0.owner}}', unit: 'USD', onError: 'continue' },
        { id: 'tell', type: 'email', when: { 'results.charge.status': 'failed' }, to: 'ops@example.com', subject: 'Charge failed', text: 'It failed.' },
      ],
    });
    const controlled = await runOf({ id: `evt_${randomUUID()}`, type: control, data: { items: [{ owner: `u_${randomUUID().slice(0, 8)}`, amount: 100 }, { owner: `u_${randomUUID().slice(0, 8)}`, amount: 200 }] } });
    const order = `order${randomUUID().slice(0, 8)}.created`;
    const paid = `payment${randomUUID().slice(0, 8)}.confirmed`;
    await api.request('POST', '/v1/triggers', {
      name: 'Credit once paid', on: { types: [order] },
      tasks: [
        { id: 'paid', type: 'wait_for_event', types: [paid], correlate: { path: 'data.orderId', equals: '{{data.id}}' }, timeoutSeconds: 60 },
        { id: 'credit', type: 'account', action: 'credit', amountFrom: 'tasks.paid.data.amount', owner: '{{data.owner}}', createIfMissing: true, unit: 'USD' },
      ],
    });
    const orderId = `ord_${randomUUID().slice(0, 8)}`;
    const waiting = await runOf({ id: `evt_${randomUUID()}`, type: order, data: { id: orderId, owner: `u_${randomUUID().slice(0, 8)}` } });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await api.request('POST', '/v1/events', { id: `evt_${randomUUID()}`, type: paid, data: { orderId, amount: 700 } });

    // Balance changes: a trigger crediting the account whose changes it reacts to, until the chain is too deep.
    const looping = `u_${randomUUID().slice(0, 8)}`;
    const loop = (await api.request('POST', '/v1/triggers', {
      name: 'Credit on every change', on: { types: ['account.balance_changed'], filter: { 'data.account.ownerId': looping } },
      tasks: [{ id: 'again', type: 'account', action: 'credit', amount: 1, owner: '{{account.ownerId}}', unit: 'USD' }],
    })).body.id as string;
    await api.request('POST', `/v1/accounts/${looping}/entries`, { unit: 'USD', direction: 'credit', amount: 100, idempotencyKey: randomUUID(), createIfMissing: true });
    const chainRun = (seq: number) => `${loop}:bal:USD:${looping}:${seq}`;
    await untilStarted(worker.client, chainRun(MAX_CHAIN_DEPTH + 1));

    // Payment requests: one confirmed, one failed by the gateway (the customer is emailed), one refused at submit.
    const due = `bill${randomUUID().slice(0, 8)}.due`;
    await api.request('POST', '/v1/triggers', {
      name: 'Pay the bill', on: { types: [due] },
      tasks: [
        { id: 'pay', type: 'payment_request', gateway: 'card', amountFrom: 'data.amount', unit: 'EUR', ownerId: '{{data.ownerId}}', reference: '{{data.bill}}', timeoutSeconds: 600, onError: 'continue' },
        { id: 'tell', type: 'email', when: { 'tasks.pay.event.type': 'payment_request.failed' }, to: 'customer@example.com', subject: 'Your payment failed', text: 'Please check your card.' },
      ],
    });
    const payment = async (bill: string) => {
      const workflowId = await runOf({ id: `evt_${randomUUID()}`, type: due, data: { bill, ownerId: `cust_${randomUUID().slice(0, 8)}`, amount: 4_200 } });
      if (bill.startsWith('declined-')) return { workflowId, id: '' };
      const deadline = Date.now() + 60_000;
      for (;;) {
        const submitted = gatewayStub.requests.find((request) => request.reference === bill);
        if (submitted) return { workflowId, id: submitted.paymentRequestId };
        if (Date.now() > deadline) throw new Error(`the gateway never got the request for ${bill}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    const succeeded = await payment(`B-${randomUUID().slice(0, 8)}`);
    await gatewayStub.succeed(succeeded.id);
    const failedPayment = await payment(`B-${randomUUID().slice(0, 8)}`);
    await gatewayStub.fail(failedPayment.id, 'insufficient_funds');
    const refused = await payment(`declined-${randomUUID().slice(0, 8)}`);

    // Cancellations out of order: one held before its purchase (the run starts cancelled), one after the tasks answered by onLateCancel.
    const held = `${resource}-held`;
    await api.request('POST', '/v1/triggers', topUpTrigger(held, 0));
    const heldPurchase = purchaseEvent(held, 5000);
    await api.request('POST', '/v1/events', purchaseEvent(held, 5000, heldPurchase.data.reservation.user, 'request.cancelled', heldPurchase.data.reservation.id));
    const heldCancellation = await runOf(heldPurchase);
    const late = `${resource}-late`;
    await api.request('POST', '/v1/triggers', {
      ...topUpTrigger(late, 0),
      onLateCancel: { withinSeconds: 60, tasks: [{ id: 'take-back', type: 'account', action: 'debit', when: { 'results.credit.status': 'completed' }, amountFrom: 'tasks.credit.amount', unit: 'USD' }] },
    });
    const latePurchase = purchaseEvent(late, 5000);
    const lateCancel = await runOf(latePurchase);
    for (const deadline = Date.now() + 60_000; ; await new Promise((resolve) => setTimeout(resolve, 100))) {
      const state = await worker.client.workflow.getHandle(lateCancel).query(runStateQuery);
      if (state.tasks.every((task) => task.status === 'completed')) break;
      if (Date.now() > deadline) throw new Error(`the tasks of ${lateCancel} did not complete`);
    }
    await api.request('POST', '/v1/events', purchaseEvent(late, 5000, latePurchase.data.reservation.user, 'request.cancelled', latePurchase.data.reservation.id));

    const runs = {
      'top-up': topUp, 'unmatched-price': unmatched, 'script-error': failing, cancelled, 'for-each-on-error': controlled, 'wait-for-event': waiting,
      'balance-event': chainRun(1), 'chain-too-deep': chainRun(MAX_CHAIN_DEPTH + 1),
      'payment-request-succeeded': succeeded.workflowId, 'payment-request-failed': failedPayment.workflowId, 'payment-request-refused': refused.workflowId,
      'held-cancellation': heldCancellation, 'late-cancel-answered': lateCancel, 'top-up-after-window': afterWindow,
    };
    for (const workflowId of Object.values(runs)) await worker.client.workflow.getHandle(workflowId).result().catch(() => undefined);
    return runs;
  } finally {
    await balancePump.stop();
    await api.close();
    await worker.stop();
    await gatewayStub.stop();
    sandbox.dispose();
    mailer.close();
    await store.close();
  }
}

/** Waits until the run exists (the balance pump starts it shortly after the posting that causes it). */
async function untilStarted(client: Client, workflowId: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await client.workflow.getHandle(workflowId).describe();
      return;
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
