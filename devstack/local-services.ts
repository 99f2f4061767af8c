import path from 'node:path';
import type { ManagedChild } from './managed-child';
import { ferretDbDataDir, startFerretDb, startMailDev, startTemporal, SERVICE_STOP_GRACE_MS, type Supervision } from './services';
import { ensureTools } from './tools';

/**
 * Which services to run locally and where. A service left out is provided
 * from outside (its URL given by env) and needs no tool.
 */
export interface ServicePlan {
  readonly ferretdb?: { readonly port: number };
  readonly temporal?: { readonly port: number; readonly uiPort?: number; readonly persist: boolean };
  readonly maildev?: { readonly smtpPort: number; readonly webPort: number; readonly persist: boolean };
}

/**
 * Provisions the tools the plan needs and starts its services in parallel
 * under `dataDir`. If one fails, the ones that did start are stopped before
 * the error is passed on, so a failed start leaves nothing running.
 */
export async function startLocalServices(plan: ServicePlan, dataDir: string, supervision: Supervision): Promise<ManagedChild[]> {
  const tools = await ensureTools({ ferretdb: Boolean(plan.ferretdb), temporal: Boolean(plan.temporal) });
  const starts: Promise<ManagedChild>[] = [];
  if (plan.ferretdb && tools.ferretdb) {
    starts.push(startFerretDb({ ...supervision, binary: tools.ferretdb, port: plan.ferretdb.port, dataDir: ferretDbDataDir(dataDir) }));
  }
  if (plan.temporal && tools.temporal) {
    const dbFile = plan.temporal.persist ? path.join(dataDir, 'temporal.db') : undefined;
    starts.push(startTemporal({ ...supervision, binary: tools.temporal, port: plan.temporal.port, uiPort: plan.temporal.uiPort, dbFile }));
  }
  if (plan.maildev) {
    const mailDir = plan.maildev.persist ? path.join(dataDir, 'maildev') : undefined;
    starts.push(startMailDev({ ...supervision, smtpPort: plan.maildev.smtpPort, webPort: plan.maildev.webPort, mailDir }));
  }
  const results = await Promise.allSettled(starts);
  const started = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failure = results.find((result) => result.status === 'rejected');
  if (!failure) return started;
  await Promise.all(started.map((child) => child.stop(SERVICE_STOP_GRACE_MS)));
  throw failure.reason;
}
