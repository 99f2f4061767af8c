// `npm run demo`: plays the booking system against a running `npm run dev`.
// Two users buy top-up packages ($50 and $100); a third buys and cancels at
// once. After the cancellation window it prints the balances, the emails
// MailDev caught, and each run's link in the Temporal UI.
import fs from 'node:fs';
import path from 'node:path';
import { topUpEvent } from '../engine/triggers/documented-top-up';
import { apiClient, type ApiClient } from './api-client';
import { DEMO_WAIT_SECONDS, seedDemoTrigger } from './demo-seed';
import { dataDir } from './paths';

const API_URL = process.env.CREDITFLOW_API_URL ?? `http://127.0.0.1:${process.env.PORT ?? 8080}`;
const MAILDEV_URL = process.env.MAILDEV_API_URL ?? `http://127.0.0.1:${process.env.MAILDEV_UI_PORT ?? 1080}`;
/** A run not closed this long after its window has ended is reported as still running. */
const SETTLE_TIMEOUT_MS = 60_000;

const users = {
  ada: { id: 'demo_ada', email: 'ada@example.com', name: 'Ada' },
  bob: { id: 'demo_bob', email: 'bob@example.com', name: 'Bob' },
  cy: { id: 'demo_cy', email: 'cy@example.com', name: 'Cy' },
};

function adminKey(): string {
  if (process.env.ADMIN_API_KEY) return process.env.ADMIN_API_KEY;
  const file = path.join(dataDir(), 'admin-api-key');
  if (!fs.existsSync(file)) throw new Error(`no ADMIN_API_KEY and no ${file}: start the stack with npm run dev first`);
  return fs.readFileSync(file, 'utf8').trim();
}

async function send(api: ApiClient, event: ReturnType<typeof topUpEvent>): Promise<string[]> {
  const response = await api.call<{ runs: Array<{ workflowId: string }>; signalled: string[] }>('POST', '/v1/events', event);
  if (response.status !== 202 && response.status !== 200) throw new Error(`POST /v1/events answered ${response.status}: ${JSON.stringify(response.body)}`);
  const { reservation } = event.data;
  console.log(`  ${event.type.padEnd(17)} ${reservation.user.name} $${reservation.price_int / 100} (${reservation.id}): ${response.body.runs.length} run(s) started, ${response.body.signalled.length} signalled`);
  return response.body.runs.map((run) => run.workflowId);
}

interface Run { workflowId: string; status: string; temporalUiUrl: string; tasks: Array<{ id: string; status: string }> }

async function settle(api: ApiClient, workflowIds: string[]): Promise<Run[]> {
  const deadline = Date.now() + DEMO_WAIT_SECONDS * 1000 + SETTLE_TIMEOUT_MS;
  for (;;) {
    const runs = await Promise.all(workflowIds.map(async (id) => (await api.call<Run>('GET', `/v1/runs/${encodeURIComponent(id)}`)).body));
    if (runs.every((run) => run.status !== 'running') || Date.now() > deadline) return runs;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function main(): Promise<void> {
  const api = apiClient(API_URL, adminKey());
  const triggerId = await seedDemoTrigger(API_URL, adminKey());
  if (!triggerId) throw new Error('this database already has triggers of its own; the demo only runs beside its own trigger (delete .data/ for a fresh start)');
  const stamp = Date.now().toString(36);
  console.log(`Booking system: three purchases of the Account Top-Up resource (trigger ${triggerId})`);
  const started = [
    ...(await send(api, topUpEvent({ eventId: `evt_${stamp}_1`, reservationId: `res_${stamp}_1`, priceInt: 5000, user: users.ada }))),
    ...(await send(api, topUpEvent({ eventId: `evt_${stamp}_2`, reservationId: `res_${stamp}_2`, priceInt: 10000, user: users.bob }))),
    ...(await send(api, topUpEvent({ eventId: `evt_${stamp}_3`, reservationId: `res_${stamp}_3`, priceInt: 5000, user: users.cy }))),
  ];
  await send(api, topUpEvent({ eventId: `evt_${stamp}_4`, type: 'request.cancelled', reservationId: `res_${stamp}_3`, priceInt: 5000, user: users.cy }));
  console.log(`\nWaiting out the ${DEMO_WAIT_SECONDS} s cancellation window...`);
  const runs = await settle(api, started);

  console.log('\nRuns:');
  for (const run of runs) console.log(`  ${run.status.padEnd(10)} ${run.tasks.map((t) => `${t.id}:${t.status}`).join(' ')}\n             ${run.temporalUiUrl}`);
  console.log('\nBalances (USD):');
  for (const user of Object.values(users)) {
    const account = await api.call<{ balance: number }>('GET', `/v1/accounts/${user.id}?unit=USD`);
    console.log(`  ${user.name.padEnd(4)} ${account.status === 200 ? `$${(account.body.balance / 100).toFixed(2)}` : 'no account (nothing credited)'}`);
  }
  const mails = (await (await fetch(`${MAILDEV_URL}/email`)).json()) as Array<{ subject: string; to: Array<{ address: string }> }>;
  const demoAddresses = new Set(Object.values(users).map((user) => user.email));
  console.log(`\nEmails in MailDev (${MAILDEV_URL}):`);
  for (const mail of mails.filter((m) => m.to.some((to) => demoAddresses.has(to.address)))) console.log(`  to ${mail.to[0]!.address.padEnd(16)} ${mail.subject}`);
}

main().catch((error: unknown) => {
  console.error(`demo: ${(error as Error).message}`);
  process.exit(1);
});
