import { documentedTopUpTrigger, topUpEvent } from '../engine/triggers/documented-top-up';
import { apiClient } from './api-client';

/** The demo's cancellation window: long enough to cancel by hand, short enough to watch. */
export const DEMO_WAIT_SECONDS = 20;
export const DEMO_TRIGGER_NAME = 'Account top-up (demo)';

/**
 * On an empty database, installs the documented top-up trigger with a short
 * window, so a new user has something to send events to. Returns the id of
 * the demo trigger, or null when other triggers already exist.
 */
export async function seedDemoTrigger(apiUrl: string, adminKey: string): Promise<string | null> {
  const api = apiClient(apiUrl, adminKey);
  const existing = await api.call<{ items: Array<{ id: string; name: string }> }>('GET', '/v1/triggers?limit=200');
  if (existing.status !== 200) throw new Error(`listing triggers answered ${existing.status}`);
  const demo = existing.body.items.find((trigger) => trigger.name === DEMO_TRIGGER_NAME);
  if (demo) return demo.id;
  if (existing.body.items.length > 0) return null;
  const created = await api.call<{ id: string }>('POST', '/v1/triggers', documentedTopUpTrigger({ name: DEMO_TRIGGER_NAME, waitSeconds: DEMO_WAIT_SECONDS }));
  if (created.status !== 201) throw new Error(`creating the demo trigger answered ${created.status}: ${JSON.stringify(created.body)}`);
  return created.body.id;
}

/** A curl line that posts one $50 purchase, ready to paste. */
export function demoCurl(apiUrl: string, adminKey: string): string {
  const event = topUpEvent({ eventId: 'evt_try_1', reservationId: 'res_try_1', priceInt: 5000, user: { id: 'user_42', email: 'ada@example.com', name: 'Ada' } });
  return `curl -s -X POST ${apiUrl}/v1/events -H 'Authorization: Bearer ${adminKey}' -H 'Content-Type: application/json' -d '${JSON.stringify(event)}'`;
}
