import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, NativeConnection, Runtime, DefaultLogger, type Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import type { Activities } from '../../activities';
import { createEngineWorker, WORKFLOW_BUNDLER_OPTIONS, WORKFLOWS_PATH } from '../../engine/worker';

const WORKFLOWS_DIR = path.dirname(WORKFLOWS_PATH);

let runtimeInstalled = false;
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  // Tests fail runs on purpose; the SDK's warning for each would only be noise.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
}

/**
 * The workflow bundle, built once per change of workflow code and cached in
 * the temp folder: bundling takes seconds, and every test file needs it.
 */
export async function workflowBundle(): Promise<{ codePath: string }> {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(WORKFLOW_BUNDLER_OPTIONS));
  for (const file of readdirSync(WORKFLOWS_DIR).sort()) hash.update(file).update(readFileSync(path.join(WORKFLOWS_DIR, file)));
  const codePath = path.join(os.tmpdir(), `creditflow-workflows-${hash.digest('hex').slice(0, 16)}.js`);
  if (!existsSync(codePath)) {
    const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, ...WORKFLOW_BUNDLER_OPTIONS, logger: new DefaultLogger('WARN') });
    writeFileSync(codePath, code);
  }
  return { codePath };
}

export function temporalAddress(): string {
  const address = process.env.TEMPORAL_ADDRESS;
  if (!address) throw new Error('TEMPORAL_ADDRESS is not set: integration tests run under the jest integration project');
  return address;
}

export interface TestWorker {
  client: Client;
  taskQueue: string;
  worker: Worker;
  /** Runs the worker until `stop` is called. */
  running: Promise<void>;
  stop(): Promise<void>;
}

/** A real worker on the real test server, on a task queue of its own. */
export async function startTestWorker(activities: Activities, taskQueue = `test-${randomUUID()}`): Promise<TestWorker> {
  quietRuntime();
  const address = temporalAddress();
  const worker = await createEngineWorker({
    connection: await NativeConnection.connect({ address }),
    namespace: 'default',
    taskQueue,
    activities,
    workflowBundle: await workflowBundle(),
  });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: 'default' });
  const running = worker.run();
  return {
    client,
    taskQueue,
    worker,
    running,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

/**
 * Resolves once the run's tasks have begun: its first workflow task has been
 * picked up by the worker, which (with a zero wait) is running the first
 * local activity, so a signal sent now reaches the run in its running phase.
 * A query cannot tell: it is answered only once that workflow task ends,
 * which with local script and posting tasks is close to the run's end.
 */
export async function untilTasksBegin(client: Client, workflowId: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const handle = client.workflow.getHandle(workflowId);
  while (Date.now() < deadline) {
    const { raw } = await handle.describe();
    if (raw.pendingWorkflowTask?.state === temporal.api.enums.v1.PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_STARTED) return;
    if (raw.workflowExecutionInfo?.status !== temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING) throw new Error(`run ${workflowId} closed before its tasks could be watched`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`run ${workflowId}: no workflow task started within ${timeoutMs} ms`);
}

/**
 * A history in Temporal's JSON form (`temporal workflow show -o json`) as the
 * SDK's History message. The SDK's own `historyFromJSON` cannot be used
 * with this install: @temporalio/common and @temporalio/proto each get a
 * nested copy of protobufjs 8 (the root holds protobufjs 7 for grpc), and
 * common's JSON reader refuses message types built by proto's copy ("type
 * must be a Type"). The reader that ships with proto's own copy parses them.
 */
export function historyFromTemporalJson(json: unknown): unknown {
  const protoEntry = require.resolve('@temporalio/proto');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- resolved against @temporalio/proto's own protobufjs on purpose
  const protojson = require(require.resolve('protobufjs/ext/protojson', { paths: [protoEntry] })) as { fromJson: (type: unknown, value: unknown, options: object) => unknown };
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the SDK's helper that exposes lookupType on its generated root
  const { patchProtobufRoot } = require('@temporalio/proto/lib/patch-protobuf-root') as { patchProtobufRoot: (root: unknown) => { lookupType: (name: string) => unknown } };
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the same generated root as the SDK uses
  const historyType = patchProtobufRoot(require('@temporalio/proto')).lookupType('temporal.api.history.v1.History');
  return protojson.fromJson(historyType, json, { ignoreUnknownFields: true });
}
