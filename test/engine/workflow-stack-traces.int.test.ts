// Temporal's `__stack_trace` query (the UI's "Stack Trace" tab) needs the
// SDK to record where each of a run's promises was created, which cost the
// workflow threads about half their CPU. The worker's copy of the SDK
// (patches/@temporalio+worker+*.patch, applied on install) records them only
// with WORKFLOW_STACK_TRACES set, read when a worker starts its workflow
// threads: each case runs a real worker in a process of its own.
import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../../engine/config';
import { createLedger } from '../../engine/ledger';
import { startTestApi } from '../support/api';
import { processExited, spawnWorkerProcess } from '../support/spawn-worker';
import { openTestStore } from '../support/store';
import { workflowBundle } from '../support/temporal';
import { purchaseEvent, topUpTrigger } from '../support/top-up';

let store: Awaited<ReturnType<typeof openTestStore>>;
let connection: Connection;
let client: Client;

beforeAll(async () => {
  store = await openTestStore('stack_traces');
  await createLedger({ connection: store.connection }).ensureIndexes();
  await workflowBundle();
  connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  client = new Client({ connection });
});

afterAll(async () => {
  await connection?.close();
  await store?.close();
});

/** A run waiting out its hour-long window on a worker started with `WORKFLOW_STACK_TRACES=<setting>`, and what the query answers about it. */
async function stackTraceQuery(setting: string | undefined): Promise<PromiseSettledResult<string>> {
  const taskQueue = `test-stack-${randomUUID()}`;
  const api = await startTestApi({ store: store.connection, temporal: client, taskQueue });
  let worker: ChildProcess | undefined;
  try {
    worker = await spawnWorkerProcess({ dbName: store.dbName, taskQueue, crash: 'none', env: { WORKFLOW_STACK_TRACES: setting } });
    const resourceId = `res-stack-${randomUUID().slice(0, 8)}`;
    expect((await api.request('POST', '/v1/triggers', topUpTrigger(resourceId, 3_600))).status).toBe(201);
    const posted = await api.request<{ runs: Array<{ workflowId: string }> }>('POST', '/v1/events', purchaseEvent(resourceId, 5000));
    expect(posted.status).toBe(202);
    const handle = client.workflow.getHandle(posted.body.runs[0]!.workflowId);
    const [answer] = await Promise.allSettled([handle.query<string>('__stack_trace')]);
    await handle.terminate('test over');
    return answer!;
  } finally {
    worker?.kill('SIGKILL');
    if (worker) await processExited(worker);
    await api.close();
  }
}

describe('stack traces of running workflows', () => {
  it('are not recorded by default: the query says so', async () => {
    const answer = await stackTraceQuery(undefined);
    expect(answer).toMatchObject({ status: 'rejected', reason: { message: 'Workflow stack traces are not enabled on this worker' } });
  });

  it('are recorded with WORKFLOW_STACK_TRACES=true: the query shows where the run waits', async () => {
    const answer = await stackTraceQuery('true');
    expect(answer.status).toBe('fulfilled');
    expect((answer as PromiseFulfilledResult<string>).value).toMatch(/trigger-run\.ts:\d+:\d+/);
  });

  it('is a flag: any other value stops the configuration with the variable named', () => {
    const base = { ADMIN_API_KEY: 'k'.repeat(16) };
    expect(() => loadConfig({ ...base, WORKFLOW_STACK_TRACES: 'yes' })).toThrow(/WORKFLOW_STACK_TRACES/);
    expect(loadConfig(base).WORKFLOW_STACK_TRACES).toBe(false);
    expect(loadConfig({ ...base, WORKFLOW_STACK_TRACES: '1' }).WORKFLOW_STACK_TRACES).toBe(true);
  });
});
