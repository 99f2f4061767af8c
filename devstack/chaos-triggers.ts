// The three triggers a chaos run exercises: the documented top-up (the
// shipped examples/account-top-up/trigger.yaml, applied with the CLI's
// apply, its window shortened), a balance-triggered loyalty point, and a
// heartbeat schedule.
import { applyAll, loadResources } from '../cli/apply';
import type { RetryingClient } from './chaos-client';
import { adminApi } from './demo-seed';
import { REPO_DIR } from './paths';

/** The documented top-up as shipped; only its 30-minute window is shortened. */
export const TOP_UP_TRIGGER_FILE = 'examples/account-top-up/trigger.yaml';
/** How often the heartbeat fires: several firings in a short run, each a Temporal Schedule action. */
const HEARTBEAT_EVERY_SECONDS = 20;
const SETUP_DEADLINE_MS = 60_000;

/**
 * Every USD credit earns one CREDIT point, through the credit's
 * `account.balance_changed` event: delivered by the workers' balance pumps
 * at least once, deduplicated by event id, so a killed worker must neither
 * lose a point nor grant two. The point's own (CREDIT) change matches nothing.
 */
export const LOYALTY_TRIGGER = {
  name: 'Chaos: a loyalty point per top-up',
  on: { types: ['account.balance_changed'], filter: { 'data.account.unit': 'USD', 'data.entry.direction': 'credit' } },
  tasks: [{ id: 'point', type: 'account', action: 'credit', owner: '{{account.ownerId}}', amount: 1, unit: 'CREDIT', createIfMissing: true, comment: 'Loyalty point' }],
};

/** A schedule whose firings must all complete although Temporal and the workers are killed under it. */
export const HEARTBEAT_TRIGGER = {
  name: 'Chaos: heartbeat',
  on: { schedule: { everySeconds: HEARTBEAT_EVERY_SECONDS } },
  tasks: [{ id: 'beat', type: 'script', code: 'return { beat: true };' }],
};

export interface ChaosTriggers {
  readonly topUpId: string;
  readonly loyaltyId: string;
  readonly heartbeatId: string;
}

export async function installTriggers(apiUrl: string, adminKey: string, client: RetryingClient, windowSeconds: number): Promise<ChaosTriggers> {
  const resources = loadResources(REPO_DIR, [TOP_UP_TRIGGER_FILE]).map((resource) => ({ ...resource, body: { ...resource.body, wait: { seconds: windowSeconds } } }));
  const applied = await applyAll(adminApi(apiUrl, adminKey), resources);
  if (applied.failure) throw applied.failure.error;
  const topUpId = applied.results[0]?.id;
  if (!topUpId) throw new Error(`${TOP_UP_TRIGGER_FILE} was applied but no trigger id came back`);
  return { topUpId, loyaltyId: await create(client, LOYALTY_TRIGGER), heartbeatId: await create(client, HEARTBEAT_TRIGGER) };
}

/** Stops the heartbeat before settling, so "no run is open" can become true. */
export async function pauseHeartbeat(client: RetryingClient, heartbeatId: string): Promise<void> {
  const outcome = await client.request('PUT', `/v1/triggers/${heartbeatId}`, { ...HEARTBEAT_TRIGGER, enabled: false }, SETUP_DEADLINE_MS);
  if (outcome.answer?.status !== 200) throw new Error(`disabling the heartbeat answered ${outcome.answer?.status ?? outcome.lastProblem}: ${JSON.stringify(outcome.answer?.body)}`);
}

async function create(client: RetryingClient, definition: object): Promise<string> {
  const outcome = await client.request<{ id?: string }>('POST', '/v1/triggers', definition, SETUP_DEADLINE_MS);
  if (outcome.answer?.status !== 201 || !outcome.answer.body.id) throw new Error(`creating a trigger answered ${outcome.answer?.status ?? outcome.lastProblem}: ${JSON.stringify(outcome.answer?.body)}`);
  return outcome.answer.body.id;
}
