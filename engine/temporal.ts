import { readFile } from 'node:fs/promises';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { searchAttributeKeys } from '../workflows/search-attributes';
import type { Config } from './config';

type TemporalConfig = Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE' | 'TEMPORAL_TLS' | 'TEMPORAL_TLS_CERT_PATH' | 'TEMPORAL_TLS_KEY_PATH' | 'TEMPORAL_API_KEY'>;

/** How long a health probe waits for Temporal before calling it down. */
const PING_DEADLINE_MS = 3_000;

async function tlsOptions(config: TemporalConfig) {
  if (config.TEMPORAL_TLS_CERT_PATH && config.TEMPORAL_TLS_KEY_PATH) {
    const [crt, key] = await Promise.all([readFile(config.TEMPORAL_TLS_CERT_PATH), readFile(config.TEMPORAL_TLS_KEY_PATH)]);
    return { clientCertPair: { crt, key } };
  }
  return config.TEMPORAL_TLS || Boolean(config.TEMPORAL_API_KEY) ? true : undefined;
}

async function connectionOptions(config: TemporalConfig): Promise<ConnectionOptions & NativeConnectionOptions> {
  const tls = await tlsOptions(config);
  return {
    address: config.TEMPORAL_ADDRESS,
    ...(tls ? { tls } : {}),
    ...(config.TEMPORAL_API_KEY ? { apiKey: config.TEMPORAL_API_KEY } : {}),
  };
}

/**
 * A client whose connection is opened on first use, so the API can start
 * (and report Temporal as down on /readyz) while Temporal is unreachable.
 */
export async function createTemporalClient(config: TemporalConfig): Promise<Client> {
  const connection = Connection.lazy(await connectionOptions(config));
  return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
}

/** The worker's native (Rust core) connection to the same cluster. */
export async function connectWorkerConnection(config: TemporalConfig): Promise<NativeConnection> {
  return NativeConnection.connect(await connectionOptions(config));
}

/** Rejects unless the Temporal frontend answers within the probe deadline. */
export async function pingTemporal(client: Client): Promise<void> {
  await client.connection.withDeadline(Date.now() + PING_DEADLINE_MS, () =>
    client.connection.workflowService.getSystemInfo({}));
}

/**
 * Registers Creditflow's custom search attributes in the namespace when they
 * are missing. The dev server registers them at start; a production cluster
 * gets them the first time a worker starts (Temporal Cloud needs them created
 * in its console instead, so a refusal there is reported, not fatal).
 */
export async function ensureSearchAttributes(client: Client, namespace: string): Promise<string[]> {
  const operator = client.connection.operatorService;
  const existing = await operator.listSearchAttributes({ namespace });
  const known = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = searchAttributeKeys.filter((key) => !known.has(key.name));
  if (missing.length === 0) return [];
  const keyword = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  await operator.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((key) => [key.name, keyword])),
  });
  return missing.map((key) => key.name);
}

/** A link to one run in the Temporal UI. */
export function temporalUiRunUrl(uiBaseUrl: string, namespace: string, workflowId: string, runId?: string): string {
  const base = uiBaseUrl.replace(/\/+$/, '');
  const path = `/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}${path}/${encodeURIComponent(runId)}/history` : `${base}${path}`;
}
