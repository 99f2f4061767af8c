import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Client } from '@temporalio/client';
import type { Connection } from 'mongoose';
import pino from 'pino';
import { loadConfig, type Config } from '../../engine/config';
import { createMetrics } from '../../engine/metrics';
import { createSandbox } from '../../scripts-sandbox';
import { buildApi } from '../../admin-api/server';

export const TEST_ADMIN_KEY = 'test-admin-key-0123456789abcdef';

// Response bodies are untyped JSON: tests assert on their shape field by field.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface TestResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface TestApi {
  baseUrl: string;
  config: Config;
  api: ReturnType<typeof buildApi>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  request<T = any>(method: string, path: string, body?: unknown, options?: { key?: string | null; headers?: Record<string, string>; raw?: string }): Promise<TestResponse<T>>;
  close(): Promise<void>;
}

/** The real API (same wiring as production) on a free port, against the test store and Temporal. */
export async function startTestApi(deps: { store: Connection; temporal: Client; taskQueue: string; env?: Record<string, string> }): Promise<TestApi> {
  const config = loadConfig({
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    TEMPORAL_TASK_QUEUE: deps.taskQueue,
    TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS ?? '',
    LOG_LEVEL: 'silent',
    ...deps.env,
  });
  const sandbox = createSandbox({ maxTimeoutMs: config.SCRIPT_MAX_TIMEOUT_MS, maxMemoryMb: config.SCRIPT_MAX_MEMORY_MB });
  const api = buildApi({ config, logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), store: deps.store, temporal: deps.temporal, sandbox, metrics: createMetrics('api') });
  await api.ensureIndexes();
  const server: Server = await new Promise((resolve) => {
    const listening = api.app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl,
    config,
    api,
    async request(method, path, body, options = {}) {
      const key = options.key === undefined ? TEST_ADMIN_KEY : options.key;
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: {
          ...(body !== undefined || options.raw !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...options.headers,
        },
        ...(options.raw !== undefined ? { body: options.raw } : body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      sandbox.dispose();
    },
  };
}
