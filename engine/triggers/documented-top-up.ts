/**
 * The documented account top-up (QReserve's "Account Top-Up" recipe): a
 * script maps the package price to a credit in cents and a DOLLARS variable,
 * the user's account is credited (created if missing), and an email says so.
 * Used to seed the dev stack, by the demo, the benchmark and the tests.
 */
export const TOP_UP_SCRIPT = [
  'let amount = 0;',
  'if (reservation.price_int === 5000) amount = 6000;',
  'if (reservation.price_int === 10000) amount = 15000;',
  "return { amount_cents: amount, vars: { DOLLARS: '$' + Math.trunc(amount / 100) } };",
].join('\n');

/** The resource id booking systems send for the top-up service. */
export const TOP_UP_RESOURCE_ID = 'account-top-up';

export function documentedTopUpTrigger(options: { name?: string; resourceId?: string; waitSeconds: number; script?: string }) {
  // A price that matches no package computes 0: nothing is credited, so nothing is mailed.
  const creditable = { 'tasks.compute.amount_cents': { $gt: 0 } };
  const tasks: Array<Record<string, unknown>> = [
    { id: 'compute', type: 'script', code: options.script ?? TOP_UP_SCRIPT },
    { id: 'credit', type: 'account', when: creditable, action: 'credit', inputTaskId: 'compute', createIfMissing: true, unit: 'USD', comment: 'Account top-up' },
    { id: 'notify', type: 'email', when: creditable, inputTaskId: 'compute', template: 'account-credited' },
  ];
  return {
    name: options.name ?? 'Account top-up',
    on: { types: ['request.created'], filter: { 'data.reservation.resource.id': options.resourceId ?? TOP_UP_RESOURCE_ID } },
    wait: { seconds: options.waitSeconds },
    cancelOn: { types: ['request.cancelled'], correlate: 'data.reservation.id' },
    tasks,
  };
}

/** A booking system's event for a reservation of the top-up resource. */
export function topUpEvent(options: { eventId: string; type?: string; reservationId: string; priceInt: number; user: { id: string; email: string; name: string }; resourceId?: string }) {
  return {
    id: options.eventId,
    type: options.type ?? 'request.created',
    data: {
      reservation: {
        id: options.reservationId,
        price_int: options.priceInt,
        currency: 'USD',
        user: options.user,
        resource: { id: options.resourceId ?? TOP_UP_RESOURCE_ID, name: 'Account Top-Up' },
      },
    },
  };
}
