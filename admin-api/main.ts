import type { Server } from 'node:http';
import { loadConfig } from '../engine/config';
import { createLogger } from '../engine/logger';
import { exitOnStartupError, onShutdown } from '../engine/shutdown';
import { connectStore, pingStore } from '../engine/store';
import { createLedger } from '../engine/ledger';
import { createTemporalClient, pingTemporal } from '../engine/temporal';
import { accountRoutes } from './accounts/routes';
import { createApp } from './app';
import { adminKeyResolver } from './auth';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config, 'creditflow-api');
  const store = await connectStore(config.MONGODB_URI);
  const temporal = await createTemporalClient(config);
  const { app } = createApp({
    logger,
    resolveKey: adminKeyResolver(config.ADMIN_API_KEY),
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    readinessChecks: [
      { name: 'store', check: () => pingStore(store) },
      { name: 'temporal', check: () => pingTemporal(temporal) },
    ],
    modules: [accountRoutes({ ledger: createLedger({ connection: store, policyDefaults: config.LEDGER_POLICY_DEFAULTS }), defaultUnit: config.DEFAULT_UNIT })],
    ...(config.PUBLIC_URL ? { publicUrl: config.PUBLIC_URL } : {}),
  });
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
    await Promise.all([store.close(), temporal.connection.close()]);
  });
}

main().catch((error: unknown) => exitOnStartupError('creditflow-api', error));
