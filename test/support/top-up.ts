import { randomUUID } from 'node:crypto';

/** The documented top-up script: $50 buys 6000 cents, $100 buys 15000. */
export const TOP_UP_SCRIPT = [
  'let amount = 0;',
  'if (reservation.price_int === 5000) amount = 6000;',
  'if (reservation.price_int === 10000) amount = 15000;',
  "return { amount_cents: amount, vars: { DOLLARS: '$' + Math.trunc(amount / 100) } };",
].join('\n');

/** The documented trigger, filtered on a resource id of the test's own so tests never see each other's events. */
export function topUpTrigger(resourceId: string, waitSeconds: number, script = TOP_UP_SCRIPT) {
  const tasks: Array<Record<string, unknown>> = [
    { id: 'compute', type: 'script', code: script },
    { id: 'credit', type: 'account', action: 'credit', inputTaskId: 'compute', createIfMissing: true, unit: 'USD' },
    { id: 'notify', type: 'email', inputTaskId: 'compute', template: 'account-credited' },
  ];
  return {
    name: `Account top-up (${resourceId})`,
    on: { types: ['request.created'], filter: { 'data.reservation.resource.id': resourceId } },
    wait: { seconds: waitSeconds },
    cancelOn: { types: ['request.cancelled'], correlate: 'data.reservation.id' },
    tasks,
  };
}

/** A booking system's event for one purchase of the top-up resource. */
export function purchaseEvent(resourceId: string, priceInt: number, user = { id: `user_${randomUUID().slice(0, 8)}`, email: `${randomUUID().slice(0, 8)}@example.com`, name: 'Ada' }, type = 'request.created', reservationId = `res_${randomUUID().slice(0, 8)}`) {
  return {
    id: `evt_${randomUUID()}`,
    type,
    occurredAt: '2026-11-21T10:00:00Z',
    data: { reservation: { id: reservationId, price_int: priceInt, currency: 'USD', user, resource: { id: resourceId, name: 'Account Top-Up' } } },
  };
}
