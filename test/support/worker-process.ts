// A real worker in its own process, so a test can SIGKILL it mid-run.
// With CRASH_AFTER_POST=1 it kills itself right after the ledger commits a
// posting, before the activity can report completion to Temporal: the
// moment where a retried activity must not post twice. With
// CRASH_AFTER_TRANSFER_DEBIT=1 it kills itself right after a transfer's
// debit is stored, before its credit (the ledger's afterTransferDebit fault
// point): the moment where a transfer is half done. With WITH_FIRINGS=1 it
// also runs schedule firings (test/support/firings.ts), so a firing of
// POST /v1/triggers/{id}/fire runs in it end to end.
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { createLedger } from '../../engine/ledger';
import { createSmtpMailer } from '../../engine/mail/mailer';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../../engine/mail/templates';
import { connectStore } from '../../engine/store';
import { createEngineWorker } from '../../engine/worker';
import { createSandbox } from '../../scripts-sandbox';
import { firingDependencies } from './firings';
import { workflowBundle } from './temporal';

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const env = process.env as Record<string, string>;
  const store = await connectStore(env.MONGODB_URI!, { dbName: env.TEST_DB_NAME! });
  const crashAfterTransferDebit = env.CRASH_AFTER_TRANSFER_DEBIT === '1';
  const ledger = createLedger({
    connection: store,
    ...(crashAfterTransferDebit ? { faultPoints: { afterTransferDebit: async () => { process.kill(process.pid, 'SIGKILL'); } } } : {}),
  });
  const post: typeof ledger.post = async (request) => {
    const result = await ledger.post(request);
    if (env.CRASH_AFTER_POST === '1') process.kill(process.pid, 'SIGKILL');
    return result;
  };
  const worker = await createEngineWorker({
    connection: await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS! }),
    namespace: 'default',
    taskQueue: env.TEST_TASK_QUEUE!,
    activities: createActivities({
      connection: store, sandbox: createSandbox(), ledger: { post, transfer: (request) => ledger.transfer(request) }, mailer: createSmtpMailer(env.SMTP_URL!, 'Creditflow <no-reply@creditflow.test>'), templates: fileTemplateCatalog(BUNDLED_TEMPLATES_DIR),
      ...(env.WITH_FIRINGS === '1' ? { firings: (await firingDependencies(store, ledger, env.TEST_TASK_QUEUE!)).firings } : {}),
    }),
    workflowBundle: await workflowBundle(),
  });
  process.stdout.write('worker ready\n');
  await worker.run();
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
