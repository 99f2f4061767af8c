import { randomUUID } from 'node:crypto';
import { createActivities } from '../../../activities';
import { createLedger } from '../../../engine/ledger';
import { createSmtpMailer } from '../../../engine/mail/mailer';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../../../engine/mail/templates';
import { createSandbox } from '../../../scripts-sandbox';
import { startTestApi } from '../../support/api';
import { openTestStore } from '../../support/store';
import { startTestWorker } from '../../support/temporal';
import { purchaseEvent, topUpTrigger } from '../../support/top-up';

/**
 * The runs whose histories are kept for replay: the documented top-up
 * ($50 credited and mailed), one cancelled in its window, a price that
 * matches no package (the credit skipped), and a script error. Returns
 * each scenario's workflow id once the run has closed.
 */
export async function recordScenarios(): Promise<Record<string, string>> {
  const store = await openTestStore('histories');
  const sandbox = createSandbox();
  const mailer = createSmtpMailer(process.env.SMTP_URL!, 'Creditflow <no-reply@creditflow.test>');
  const ledger = createLedger({ connection: store.connection });
  const worker = await startTestWorker(createActivities({ connection: store.connection, sandbox, ledger, mailer, templates: fileTemplateCatalog(BUNDLED_TEMPLATES_DIR) }));
  const api = await startTestApi({ store: store.connection, temporal: worker.client, taskQueue: worker.taskQueue });
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

    const runs = { 'top-up': topUp, 'unmatched-price': unmatched, 'script-error': failing, cancelled };
    for (const workflowId of Object.values(runs)) await worker.client.workflow.getHandle(workflowId).result().catch(() => undefined);
    return runs;
  } finally {
    await api.close();
    await worker.stop();
    sandbox.dispose();
    mailer.close();
    await store.close();
  }
}
