// The real API and a worker on the test stack, with a way to apply an
// example folder through the CLI's apply code, as `creditflow apply` and the
// demo do. The worker can send webhooks to 127.0.0.1, as the dev stack's.
import path from 'node:path';
import { applyAll, loadResources, type ApplyResult } from '../../cli/apply';
import { adminApi } from '../../devstack/demo-seed';
import type { Connection } from 'mongoose';
import type { Ledger } from '../../engine/ledger';
import { TEST_ADMIN_KEY, type TestApi } from '../support/api';
import { startEngineHarness } from '../support/engine-harness';

export const REPO_DIR = path.resolve(__dirname, '..', '..');

export interface ExampleStack {
  api: TestApi;
  ledger: Ledger;
  /** The test database the API and the worker share. */
  connection: Connection;
  /** Applies the files and folders named (relative to the repository) and returns each result. */
  apply(...targets: string[]): Promise<ApplyResult[]>;
  /** Sends the event and returns the workflow ids of the runs it started, once they have closed. */
  send(event: unknown): Promise<string[]>;
  /** GET /v1/runs/{workflowId}. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  run(workflowId: string): Promise<any>;
  close(): Promise<void>;
}

/** With `balanceEvents`, ledger entries reach triggers as account.balance_changed, as in the dev stack. */
export async function startExampleStack(label: string, options: { balanceEvents?: boolean } = {}): Promise<ExampleStack> {
  const engine = await startEngineHarness(label, { webhooksTo: ['127.0.0.1'], ...(options.balanceEvents ? { balanceEvents: true, balancePollMs: 100 } : {}) });
  const { api, ledger, worker } = engine;
  return {
    api,
    ledger,
    connection: engine.connection,
    async apply(...targets) {
      const outcome = await applyAll(adminApi(api.baseUrl, TEST_ADMIN_KEY), loadResources(REPO_DIR, targets));
      if (outcome.failure) throw outcome.failure.error;
      return outcome.results;
    },
    async send(event) {
      const accepted = await api.request('POST', '/v1/events', event);
      expect(accepted.status).toBe(202);
      const workflowIds = (accepted.body.runs as Array<{ workflowId: string }>).map((run) => run.workflowId);
      await Promise.all(workflowIds.map((id) => worker.client.workflow.getHandle(id).result().catch(() => undefined)));
      return workflowIds;
    },
    async run(workflowId) {
      const response = await api.request('GET', `/v1/runs/${encodeURIComponent(workflowId)}`);
      expect(response.status).toBe(200);
      return response.body;
    },
    close: () => engine.close(),
  };
}
