import { randomUUID } from 'node:crypto';
import { documentedTopUpTrigger, topUpEvent } from '../../engine/triggers/documented-top-up';

/** The documented trigger, filtered on a resource id of the test's own so tests never see each other's events. */
export function topUpTrigger(resourceId: string, waitSeconds: number, script?: string) {
  return documentedTopUpTrigger({ name: `Account top-up (${resourceId})`, resourceId, waitSeconds, ...(script ? { script } : {}) });
}

/** A booking system's event for one purchase of the test's top-up resource. */
export function purchaseEvent(resourceId: string, priceInt: number, user = { id: `user_${randomUUID().slice(0, 8)}`, email: `${randomUUID().slice(0, 8)}@example.com`, name: 'Ada' }, type = 'request.created', reservationId = `res_${randomUUID().slice(0, 8)}`) {
  return { ...topUpEvent({ eventId: `evt_${randomUUID()}`, type, reservationId, priceInt, user, resourceId }), occurredAt: '2026-11-21T10:00:00Z' };
}
