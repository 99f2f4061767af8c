import { ApiClient } from '../cli/api';
import { applyAll, loadResources, type ApplyResult, type Resource } from '../cli/apply';
import { topUpEvent } from '../engine/triggers/documented-top-up';
import { REPO_DIR } from './paths';

/** The demo's cancellation window: long enough to cancel by hand, short enough to watch. */
export const DEMO_WAIT_SECONDS = 20;
/** The example the demo installs, and the key it has. */
export const DEMO_TRIGGER_FILE = 'examples/account-top-up/trigger.yaml';
export const DEMO_TRIGGER_KEY = 'account-top-up';

interface TriggerSummary {
  id: string;
  key?: string;
  wait?: { seconds: number };
}

export function adminApi(apiUrl: string, adminKey: string): ApiClient {
  return new ApiClient({ url: apiUrl.replace(/\/+$/, ''), key: adminKey, keySource: 'the admin key' });
}

/** The example trigger as `creditflow apply` reads it, with the demo's short window instead of its 30 minutes. */
export function demoTriggerResources(): Resource[] {
  return loadResources(REPO_DIR, [DEMO_TRIGGER_FILE]).map((resource) => ({ ...resource, body: { ...resource.body, wait: { seconds: DEMO_WAIT_SECONDS } } }));
}

/** Applies the demo trigger through the CLI's apply: created, unchanged, or updated back to the demo's window. */
export async function applyDemoTrigger(api: ApiClient): Promise<ApplyResult> {
  const outcome = await applyAll(api, demoTriggerResources());
  if (outcome.failure) throw outcome.failure.error;
  return outcome.results[0]!;
}

/** Every live trigger (the first 200: the demo only runs beside its own). */
export async function listTriggers(api: ApiClient): Promise<TriggerSummary[]> {
  return (await api.expect<{ items: TriggerSummary[] }>([200], 'listing triggers', 'GET', '/v1/triggers?limit=200')).body.items;
}

/**
 * On an empty database, installs the example top-up trigger with the demo's
 * short window, so a new user has something to send events to. Returns its
 * id, or null when the database has triggers of its own (a trigger already
 * holding the key with another window, e.g. after `apply examples/`, is left
 * as it is, and null is returned too).
 */
export async function seedDemoTrigger(apiUrl: string, adminKey: string): Promise<string | null> {
  const api = adminApi(apiUrl, adminKey);
  const existing = await listTriggers(api);
  const demo = existing.find((trigger) => trigger.key === DEMO_TRIGGER_KEY);
  if (demo) return demo.wait?.seconds === DEMO_WAIT_SECONDS ? demo.id : null;
  if (existing.length > 0) return null;
  return (await applyDemoTrigger(api)).id ?? null;
}

/** A curl line that posts one $50 purchase, ready to paste. */
export function demoCurl(apiUrl: string, adminKey: string): string {
  const event = topUpEvent({ eventId: 'evt_try_1', reservationId: 'res_try_1', priceInt: 5000, user: { id: 'user_42', email: 'ada@example.com', name: 'Ada' } });
  return `curl -s -X POST ${apiUrl}/v1/events -H 'Authorization: Bearer ${adminKey}' -H 'Content-Type: application/json' -d '${JSON.stringify(event)}'`;
}

/** What to try next with the CLI, printed by the demo. */
export const CLI_NEXT_STEPS = [
  ['npm run cf -- runs', 'the runs with their tasks'],
  ['npm run cf -- runs --follow', 'new runs and status changes as they happen (Ctrl-C stops)'],
  ['npm run cf -- dry-run examples/account-top-up/purchase.event.json', 'what a purchase would do, changing nothing'],
  ['npm run cf -- events send examples/account-top-up/purchase.event.json', 'send it for real'],
  ['npm run cf -- apply examples/', "give the trigger the example's own 30-minute window"],
] as const;
