import type { Server } from 'node:http';
import { loadConfig } from '../engine/config';
import { createLogger } from '../engine/logger';
import { createMetrics } from '../engine/metrics';
import { exitOnStartupError, onShutdown } from '../engine/shutdown';
import { connectStore } from '../engine/store';
import { createTemporalClient } from '../engine/temporal';
import { createSandbox } from '../scripts-sandbox';
import { buildApi } from './server';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config, 'creditflow-api');
  const store = await connectStore(config.MONGODB_URI);
  const temporal = await createTemporalClient(config);
  // The API compiles scripts to validate triggers; it never runs them for effect.
  const sandbox = createSandbox({ maxTimeoutMs: config.SCRIPT_MAX_TIMEOUT_MS, maxMemoryMb: config.SCRIPT_MAX_MEMORY_MB, processes: config.SCRIPT_SANDBOX_PROCESSES, queueLimit: config.SCRIPT_QUEUE_LIMIT, burstPollUs: config.SCRIPT_SANDBOX_BURST_POLL_US });
  const api = buildApi({ config, logger, store, temporal, sandbox, metrics: createMetrics('api') });
  await api.ensureIndexes();
  const { app } = api;
  const server: Server = await new Promise((resolve, reject) => {
    const listening = app.listen(config.PORT, config.HOST, () => resolve(listening));
    listening.once('error', reject);
  });
  logger.info({ host: config.HOST, port: config.PORT }, 'api listening');
  onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    sandbox.dispose();
    await Promise.all([store.close(), temporal.connection.close()]);
  });
}

main().catch((error: unknown) => exitOnStartupError('creditflow-api', error));
