import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freeLoopbackPort } from '../../engine/metrics-server';
import { TEST_ADMIN_KEY, type TestResponse } from './api';

const REPO_DIR = path.resolve(__dirname, '..', '..');

/** The API entry (`npm run start:api`) as its own process, for tests of what several replicas do at once. */
export interface ApiProcess {
  baseUrl: string;
  request(method: string, path: string, body?: unknown): Promise<Pick<TestResponse, 'status' | 'body'>>;
  stop(): Promise<void>;
}

/** Starts the API as production runs it, on the test store's database `dbName` and the given task queue; resolves once /readyz answers. */
export async function startApiProcess(options: { storeUri: string; dbName: string; taskQueue: string; env?: Record<string, string> }): Promise<ApiProcess> {
  const port = await freeLoopbackPort();
  const storeUri = new URL(options.storeUri);
  storeUri.pathname = `/${options.dbName}`;
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_DIR, 'admin-api', 'main.ts')], {
    cwd: REPO_DIR,
    env: {
      ...process.env,
      HOST: '127.0.0.1', PORT: String(port), ADMIN_API_KEY: TEST_ADMIN_KEY, MONGODB_URI: storeUri.toString(),
      TEMPORAL_TASK_QUEUE: options.taskQueue, LOG_LEVEL: 'error', RATE_LIMIT_EVENTS_PER_MINUTE: '1000000',
      ...options.env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const stop = () => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
  for (let attempt = 0; attempt < 600; attempt += 1) {
    if (child.exitCode !== null) throw new Error(`the API process exited (${child.exitCode})`);
    if (await fetch(`${baseUrl}/readyz`).then((response) => response.ok, () => false)) {
      return {
        baseUrl,
        async request(method, urlPath, body) {
          const response = await fetch(`${baseUrl}${urlPath}`, {
            method,
            headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
            ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          });
          const text = await response.text();
          return { status: response.status, body: text ? JSON.parse(text) : undefined };
        },
        stop,
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  throw new Error('the API process did not become ready within 60 s');
}
