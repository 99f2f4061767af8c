import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { Connection as StoreConnection } from 'mongoose';
import pino from 'pino';
import type { ActivityDependencies } from '../../activities';
import { createCustomerDirectory } from '../../engine/customers';
import { createEventIngestor } from '../../engine/events/ingest';
import type { Ledger } from '../../engine/ledger';
import { createTriggerStore } from '../../engine/triggers/trigger-store';
import { temporalAddress } from './temporal';

/**
 * What a test worker needs to run schedule firings: the trigger store, the
 * ledger's sweep and an ingestor on a Temporal client of its own, bound to
 * the task queue the worker will poll (chosen here unless given, since the
 * activities exist before the worker and its client).
 */
export async function firingDependencies(store: StoreConnection, ledger: Ledger, queue?: string): Promise<{ firings: NonNullable<ActivityDependencies['firings']>; taskQueue: string; close: () => Promise<void> }> {
  const taskQueue = queue ?? `test-${randomUUID()}`;
  const connection = await Connection.connect({ address: temporalAddress() });
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const triggers = createTriggerStore(store);
  const ingestor = createEventIngestor({ connection: store, triggers, temporal: new Client({ connection, namespace: 'default' }), taskQueue, logger });
  return { firings: { triggers, ledger, ingestor, logger, customers: createCustomerDirectory({ connection: store, ledger }) }, taskQueue, close: () => connection.close() };
}
