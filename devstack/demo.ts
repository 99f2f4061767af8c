// `npm run demo`: plays the booking system against a running `npm run dev`.
// Two users buy top-up packages ($50 and $100); a third buys and cancels at
// once. It installs the example trigger (examples/account-top-up) through
// the CLI's apply with a 20 s window, and after that window prints the
// balances, the emails MailDev caught, each run's link in the Temporal UI,
// and the CLI commands to try next.
import { describeResult } from '../cli/commands/apply';
import { adminKey } from '../cli/settings';
import { topUpEvent } from '../engine/triggers/documented-top-up';
import { apiClient, type ApiClient } from './api-client';
import { adminApi, applyDemoTrigger, CLI_NEXT_STEPS, DEMO_TRIGGER_KEY, DEMO_WAIT_SECONDS, listTriggers } from './demo-seed';

const API_URL = process.env.CREDITFLOW_API_URL ?? `http://127.0.0.1:${process.env.PORT ?? 8080}`;
const MAILDEV_URL = process.env.MAILDEV_API_URL ?? `http://127.0.0.1:${process.env.MAILDEV_UI_PORT ?? 1080}`;
/** A run not closed this long after its window has ended is reported as still running. */
const SETTLE_TIMEOUT_MS = 60_000;

const users = {
  ada: { id: 'demo_ada', email: 'ada@example.com', name: 'Ada' },
  bob: { id: 'demo_bob', email: 'bob@example.com', name: 'Bob' },
  cy: { id: 'demo_cy', email: 'cy@example.com', name: 'Cy' },
};

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

/** Installs the demo trigger through the CLI's apply, unless the database has triggers of its own. */
async function installTrigger(key: string): Promise<string> {
  const cli = adminApi(API_URL, key);
  const others = (await listTriggers(cli)).filter((trigger) => trigger.key !== DEMO_TRIGGER_KEY);
  if (others.length > 0) throw new Error('this database already has triggers of its own; the demo only runs beside its own trigger (delete .data/ for a fresh start)');
  console.log('Installing the example trigger with a short window (as npm run cf -- apply would):');
  const result = await applyDemoTrigger(cli);
  console.log(describeResult(result).map((line) => `  ${line}`).join('\n'));
  return result.id!;
}

async function main(): Promise<void> {
  const key = adminKey(process.env).key;
  const api = apiClient(API_URL, key);
  const triggerId = await installTrigger(key);
  const stamp = Date.now().toString(36);
  console.log(`\nBooking system: three purchases of the Account Top-Up resource (trigger ${triggerId})`);
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
  const width = Math.max(...CLI_NEXT_STEPS.map(([command]) => command.length));
  console.log(`\nNext, with the CLI (cli/README.md):\n${CLI_NEXT_STEPS.map(([command, what]) => `  ${command.padEnd(width)}  ${what}`).join('\n')}`);
}

main().catch((error: unknown) => {
  console.error(`demo: ${(error as Error).message}`);
  process.exit(1);
});
