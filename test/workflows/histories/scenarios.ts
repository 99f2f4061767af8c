import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import pino from 'pino';
import { createActivities } from '../../../activities';
import { BalancePump } from '../../../engine/events/balance-pump';
import { createEventIngestor } from '../../../engine/events/ingest';
import { createLedger } from '../../../engine/ledger';
import { createSmtpMailer } from '../../../engine/mail/mailer';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../../../engine/mail/templates';
import { createTriggerStore } from '../../../engine/triggers/trigger-store';
import { createSandbox } from '../../../scripts-sandbox';
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
 * the run past the chain depth limit (chain_too_deep). Returns each
 * scenario's workflow id once the run has closed.
 */
export async function recordScenarios(): Promise<Record<string, string>> {
  const store = await openTestStore('histories');
  const sandbox = createSandbox();
  const mailer = createSmtpMailer(process.env.SMTP_URL!, 'Creditflow <no-reply@creditflow.test>');
  const ledger = createLedger({ connection: store.connection });
  const worker = await startTestWorker(createActivities({ connection: store.connection, sandbox, ledger, mailer, templates: fileTemplateCatalog(BUNDLED_TEMPLATES_DIR) }));
  const api = await startTestApi({ store: store.connection, temporal: worker.client, taskQueue: worker.taskQueue });
  const silent = pino({ level: 'silent' });
  const ingestor = createEventIngestor({ connection: store.connection, triggers: createTriggerStore(store.connection), temporal: worker.client, taskQueue: worker.taskQueue, logger: silent });
  const balancePump = new BalancePump({ outbox: ledger.balanceChanges, ingest: ingestor.ingest, logger: silent, pollIntervalMs: 100 });
  balancePump.start();
  try {
    const resource = `top-up-${randomUUID().slice(0, 8)}`;
    await api.request('POST', '/v1/triggers', topUpTrigger(resource, 0));
    const windowed = `${resource}-window`;
    await api.request('POST', '/v1/triggers', topUpTrigger(windowed, 60));
    const broken = `${resource}-broken`;
    await api.request('POST', '/v1/triggers', topUpTrigger(broken, 0, 'return reservation.nothing.here;'));

    const runOf = async (event: unknown) => (await api.request('POST', '/v1/events', event)).body.runs[0].workflowId as string;
    const topUp = await runOf(purchaseEvent(resource, 5000));
    const unmatched = await runOf(purchaseEvent(resource, 4200));
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

    const runs = {
      'top-up': topUp, 'unmatched-price': unmatched, 'script-error': failing, cancelled, 'for-each-on-error': controlled, 'wait-for-event': waiting,
      'balance-event': chainRun(1), 'chain-too-deep': chainRun(MAX_CHAIN_DEPTH + 1),
    };
    for (const workflowId of Object.values(runs)) await worker.client.workflow.getHandle(workflowId).result().catch(() => undefined);
    return runs;
  } finally {
    await balancePump.stop();
    await api.close();
    await worker.stop();
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
