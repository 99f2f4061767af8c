// Seed 003's flow (iRealty) played against a running API and worker:
// `npm run demo -- subscriptions`. An agent buys a credit package, is
// subscribed to a plan paid in credits, the renewal sweep renews it, the
// next period comes due with too few credits left, and the agent is told.
// It returns what happened, which the demo prints and the example's
// end-to-end test checks.
import type { ApiClient as CliApi } from '../cli/api';
import type { ApiClient } from './api-client';
import { applyResources, balanceOf, closedRun, exampleResources, fireNow, type RunView } from './demo-event-sources';

export const PACKAGE_TOP_UP_FOLDER = 'examples/package-top-up';
export const RENEWALS_FOLDER = 'examples/subscription-renewals';
/** The package-top-up window the demo installs instead of its 30 minutes, so the purchase is credited while you watch. */
export const DEMO_PACKAGE_WAIT_SECONDS = 5;
/** The demo's own package: $40 buys 50 credits (a price the example packages do not match, so no purchase matches two). */
export const DEMO_PACKAGE = { name: '50 credits for $40', price: { amount: 4000, currency: 'USD' }, credits: { amount: 50, unit: 'CREDIT' }, match: { 'data.reservation.resource.id': 'credit-package', 'data.reservation.price_int': 4000 } };
const PLAN = { name: 'Agent membership', price: { amount: 30, unit: 'CREDIT' }, periodDays: 30 };

async function ok<T>(api: ApiClient, expected: number[], method: string, path: string, body?: unknown): Promise<T> {
  const response = await api.call<T>(method, path, body);
  if (!expected.includes(response.status)) throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body;
}

export interface SubscriptionsOutcome {
  ownerId: string;
  email: string;
  subscriptionId: string;
  purchase: RunView;
  afterPurchase: number | null;
  renewal: RunView;
  afterRenewal: number | null;
  periodEndAfterRenewal: string;
  runOut: RunView;
  afterRunOut: number | null;
  renewals: Array<{ outcome: string; periodEnd: string; code?: string }>;
}

/** The period end the demo writes: a minute ago, so the renewal sweep finds it due now. */
function justEnded(): string {
  return new Date(Date.now() - 60_000).toISOString();
}

export async function playSubscriptions(api: ApiClient, cli: CliApi, stamp: string, log: (line: string) => void = () => undefined): Promise<SubscriptionsOutcome> {
  const packages = exampleResources(PACKAGE_TOP_UP_FOLDER).map((resource) => (resource.kind === 'trigger' ? { ...resource, body: { ...resource.body, wait: { seconds: DEMO_PACKAGE_WAIT_SECONDS } } } : resource));
  const applied = await applyResources(cli, [...packages, ...exampleResources(RENEWALS_FOLDER)]);
  for (const result of applied) log(`  ${result.kind} ${result.name}: ${result.action}`);
  const renewalsTrigger = applied.find((result) => result.name === 'subscription-renewals')!.id!;
  await ok(api, [200, 201], 'PUT', '/v1/packages/demo-credits-50', DEMO_PACKAGE);

  const ownerId = `demo_agent_${stamp}`;
  const email = `agent-${stamp}@example.com`;
  await ok(api, [200, 201], 'PUT', `/v1/customers/${ownerId}`, { name: 'Nora Agent', email });
  log(`\n1. ${ownerId} buys "${DEMO_PACKAGE.name}" (a ${DEMO_PACKAGE_WAIT_SECONDS} s window)`);
  const event = { id: `demo_pkg_${stamp}`, type: 'request.created', data: { reservation: { id: `res_pkg_${stamp}`, price_int: 4000, currency: 'USD', user: { id: ownerId, email, name: 'Nora Agent' }, resource: { id: 'credit-package', name: 'Credit Packages' } } } };
  const started = await ok<{ runs: Array<{ workflowId: string }> }>(api, [202, 200], 'POST', '/v1/events', event);
  const purchaseRun = started.runs.find((run) => run.workflowId.includes(event.id));
  if (!purchaseRun) throw new Error('the purchase started no run: is examples/package-top-up applied and enabled?');
  const purchase = await closedRun(api, purchaseRun.workflowId);
  const afterPurchase = await balanceOf(api, ownerId, 'CREDIT');
  log(`   ${purchase.status}; balance ${afterPurchase} credits`);

  const subscriptionId = `demo_sub_${stamp}`;
  await ok(api, [200, 201], 'PUT', `/v1/subscriptions/${subscriptionId}`, { ownerId, plan: PLAN, currentPeriodEnd: justEnded(), autoRenew: true });
  log(`\n2. Subscribed to "${PLAN.name}" (${PLAN.price.amount} credits per ${PLAN.periodDays} days), period ending now; the renewal sweep fires`);
  const first = await fireNow(api, renewalsTrigger);
  const renewal = await closedRun(api, `${renewalsTrigger}:${first.firingId}`);
  const afterRenewal = await balanceOf(api, ownerId, 'CREDIT');
  const periodEndAfterRenewal = (await ok<{ currentPeriodEnd: string }>(api, [200], 'GET', `/v1/subscriptions/${subscriptionId}`)).currentPeriodEnd;
  log(`   renewed: balance ${afterRenewal} credits, period now ends ${periodEndAfterRenewal}`);

  log('\n3. The next period comes due (the demo writes its end back to now), with too few credits left; the sweep fires again');
  await ok(api, [200], 'PUT', `/v1/subscriptions/${subscriptionId}`, { ownerId, plan: PLAN, currentPeriodEnd: justEnded(), autoRenew: true });
  const second = await fireNow(api, renewalsTrigger);
  const runOut = await closedRun(api, `${renewalsTrigger}:${second.firingId}`);
  const afterRunOut = await balanceOf(api, ownerId, 'CREDIT');
  const renewals = (await ok<{ items: SubscriptionsOutcome['renewals'] }>(api, [200], 'GET', `/v1/subscriptions/${subscriptionId}/renewals`)).items;
  log(`   not renewed: balance ${afterRunOut} credits; ${email} gets the expiry notice, billing-admin@example.com the report`);
  for (const item of renewals) log(`   renewal of the period ending ${item.periodEnd}: ${item.outcome}${item.code ? ` (${item.code})` : ''}`);
  return { ownerId, email, subscriptionId, purchase, afterPurchase, renewal, afterRenewal, periodEndAfterRenewal, runOut, afterRunOut, renewals };
}
