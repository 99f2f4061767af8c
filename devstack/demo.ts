// `npm run demo`: plays the booking system against a running `npm run dev`.
// Two users buy top-up packages ($50 and $100); a third buys and cancels at
// once. It installs the example trigger (examples/account-top-up) through
// the CLI's apply with a 20 s window, and after that window prints the
// balances, the emails MailDev caught and each run's link in the Temporal UI.
// Then it plays a partner (examples/partner-wallet): it funds the partner's
// master wallet, asks for a customer's top-up, and prints the transfer and
// the signed webhook that its own receiver on 127.0.0.1 got. Last, the CLI
// commands to try next.
//
// `npm run demo -- <example>` plays one of the event-source examples instead
// (devstack/demo-event-sources.ts): low-balance-reminder, auto-top-up or
// wallet-top-up-run; or bill-run (devstack/demo-bill-run.ts); or
// subscriptions (devstack/demo-subscriptions.ts).
import { describeResult } from '../cli/commands/apply';
import { adminKey } from '../cli/settings';
import type { ApiClient as CliApi } from '../cli/api';
import { topUpEvent } from '../engine/triggers/documented-top-up';
import { apiClient, type ApiClient } from './api-client';
import { GATEWAY_STUB_URL, GatewayStub, playAutoTopUp, playLowBalance, playWalletRun } from './demo-event-sources';
import { playBillRun } from './demo-bill-run';
import { playSubscriptions } from './demo-subscriptions';
import { DEV_CARD_GATEWAY, PaymentGatewayStub } from './payment-gateway-stub';
import {
  adminApi, applyDemoTrigger, applyPartnerWallet, CLI_NEXT_STEPS, DEMO_WAIT_SECONDS, exampleTriggerKeys, listTriggers, PARTNER_MASTER_ID, PARTNER_WALLET_FILE,
  partnerTopUpEvent, signatureProblem, WebhookReceiver,
} from './demo-seed';

const API_URL = process.env.CREDITFLOW_API_URL ?? `http://127.0.0.1:${process.env.PORT ?? 8080}`;
const MAILDEV_URL = process.env.MAILDEV_API_URL ?? `http://127.0.0.1:${process.env.MAILDEV_UI_PORT ?? 1080}`;
/** A run not closed this long after its window has ended is reported as still running. */
const SETTLE_TIMEOUT_MS = 60_000;
/** What the demo puts in the partner's master wallet, and the customer's top-up it pays, in cents. */
const MASTER_FUNDING_CENTS = 10_000;
const PARTNER_TOP_UP_CENTS = 2_500;

const users = {
  ada: { id: 'demo_ada', email: 'ada@example.com', name: 'Ada' },
  bob: { id: 'demo_bob', email: 'bob@example.com', name: 'Bob' },
  cy: { id: 'demo_cy', email: 'cy@example.com', name: 'Cy' },
};
/** The partner's customer whose top-up the master wallet pays. */
const partnerCustomer = { id: 'demo_grace', name: 'Grace' };

function dollars(cents: number): string {
  return `$${(cents / 100).toFixed(2)}`;
}

async function send(api: ApiClient, event: ReturnType<typeof topUpEvent>): Promise<string[]> {
  const response = await api.call<{ runs: Array<{ workflowId: string }>; signalled: string[] }>('POST', '/v1/events', event);
  if (response.status !== 202 && response.status !== 200) throw new Error(`POST /v1/events answered ${response.status}: ${JSON.stringify(response.body)}`);
  const { reservation } = event.data;
  console.log(`  ${event.type.padEnd(17)} ${reservation.user.name} $${reservation.price_int / 100} (${reservation.id}): ${response.body.runs.length} run(s) started, ${response.body.signalled.length} signalled`);
  return response.body.runs.map((run) => run.workflowId);
}

interface Run { workflowId: string; status: string; temporalUiUrl: string; tasks: Array<{ id: string; status: string; output?: unknown; error?: { code: string; message: string } }> }

async function settle(api: ApiClient, workflowIds: string[], windowSeconds: number): Promise<Run[]> {
  const deadline = Date.now() + windowSeconds * 1000 + SETTLE_TIMEOUT_MS;
  for (;;) {
    const runs = await Promise.all(workflowIds.map(async (id) => (await api.call<Run>('GET', `/v1/runs/${encodeURIComponent(id)}`)).body));
    if (runs.every((run) => run.status !== 'running') || Date.now() > deadline) return runs;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function printRuns(runs: Run[]): void {
  for (const run of runs) console.log(`  ${run.status.padEnd(10)} ${run.tasks.map((t) => `${t.id}:${t.status}`).join(' ')}\n             ${run.temporalUiUrl}`);
}

/** Installs the demo trigger through the CLI's apply, unless the database has triggers of its own. */
async function installTrigger(cli: CliApi): Promise<string> {
  const ours = new Set(exampleTriggerKeys());
  const others = (await listTriggers(cli)).filter((trigger) => !ours.has(trigger.key ?? ''));
  if (others.length > 0) throw new Error('this database already has triggers of its own; the demo only runs beside the examples\' triggers (delete .data/ for a fresh start)');
  console.log('Installing the example trigger with a short window (as npm run cf -- apply would):');
  const result = await applyDemoTrigger(cli);
  console.log(describeResult(result).map((line) => `  ${line}`).join('\n'));
  return result.id!;
}

async function topUps(api: ApiClient, cli: CliApi, stamp: string): Promise<void> {
  const triggerId = await installTrigger(cli);
  console.log(`\nBooking system: three purchases of the Account Top-Up resource (trigger ${triggerId})`);
  const started = [
    ...(await send(api, topUpEvent({ eventId: `evt_${stamp}_1`, reservationId: `res_${stamp}_1`, priceInt: 5000, user: users.ada }))),
    ...(await send(api, topUpEvent({ eventId: `evt_${stamp}_2`, reservationId: `res_${stamp}_2`, priceInt: 10000, user: users.bob }))),
    ...(await send(api, topUpEvent({ eventId: `evt_${stamp}_3`, reservationId: `res_${stamp}_3`, priceInt: 5000, user: users.cy }))),
  ];
  await send(api, topUpEvent({ eventId: `evt_${stamp}_4`, type: 'request.cancelled', reservationId: `res_${stamp}_3`, priceInt: 5000, user: users.cy }));
  console.log(`\nWaiting out the ${DEMO_WAIT_SECONDS} s cancellation window...`);
  const runs = await settle(api, started, DEMO_WAIT_SECONDS);

  console.log('\nRuns:');
  printRuns(runs);
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

interface TransferOutput { transferId: string; amount: number; unit: string; fromBalanceAfter: number; toBalanceAfter: number }

/**
 * The partner-wallet example: funds partner_master, sends a top-up request
 * whose callbackUrl is a receiver this process runs, and prints the transfer
 * and what the receiver got. Apply never shows a webhook secret (a create
 * answers it once, and apply does not print it), so the demo rotates the
 * trigger's secret to have one to check signatures with.
 */
async function partnerWallet(api: ApiClient, cli: CliApi, stamp: string): Promise<void> {
  console.log(`\nPartner wallet: the partner's master wallet pays a customer's top-up, and a webhook tells the partner (${PARTNER_WALLET_FILE})`);
  const applied = await applyPartnerWallet(cli);
  console.log(describeResult(applied).map((line) => `  ${line}`).join('\n'));
  const rotated = await cli.expect<{ webhookSecret: string }>([200], 'rotating the webhook secret', 'POST', `/v1/triggers/${encodeURIComponent(applied.id!)}/webhook-secret/rotate`);
  const secret = rotated.body.webhookSecret;
  console.log(`  rotated its webhook secret (${secret.slice(0, 10)}...) for the demo's receiver`);
  const funded = await api.call<{ balanceAfter: number }>('POST', `/v1/accounts/${PARTNER_MASTER_ID}/entries`, {
    unit: 'USD', direction: 'credit', amount: MASTER_FUNDING_CENTS, idempotencyKey: `demo-fund-${stamp}`, comment: 'Demo: the partner pays into its master wallet', createIfMissing: true,
  });
  if (funded.status !== 201) throw new Error(`funding ${PARTNER_MASTER_ID} answered ${funded.status}: ${JSON.stringify(funded.body)}`);
  console.log(`  funded ${PARTNER_MASTER_ID} with ${dollars(MASTER_FUNDING_CENTS)}: balance ${dollars(funded.body.balanceAfter)}`);

  const receiver = await WebhookReceiver.start();
  try {
    const event = partnerTopUpEvent({ eventId: `evt_${stamp}_topup`, topupId: `top_${stamp}`, customer: partnerCustomer, amountCents: PARTNER_TOP_UP_CENTS, callbackUrl: receiver.url('/hooks/topups') });
    const accepted = await api.call<{ runs: Array<{ workflowId: string }> }>('POST', '/v1/events', event);
    if (accepted.status !== 202 && accepted.status !== 200) throw new Error(`POST /v1/events answered ${accepted.status}: ${JSON.stringify(accepted.body)}`);
    console.log(`  ${event.type.padEnd(17)} ${partnerCustomer.name} ${dollars(PARTNER_TOP_UP_CENTS)} (${event.data.topup.id}), callback ${event.data.callbackUrl}: ${accepted.body.runs.length} run(s) started`);
    const runs = await settle(api, accepted.body.runs.map((run) => run.workflowId), 0);
    console.log('\nRun:');
    printRuns(runs);

    const pay = runs[0]?.tasks.find((task) => task.id === 'pay');
    if (pay?.status === 'completed') {
      const transfer = pay.output as TransferOutput;
      console.log(`\nTransfer ${transfer.transferId}: ${dollars(transfer.amount)} ${transfer.unit}`);
      const customer = `${partnerCustomer.name} (${partnerCustomer.id})`;
      const width = Math.max(PARTNER_MASTER_ID.length, customer.length);
      console.log(`  ${PARTNER_MASTER_ID.padEnd(width)}  debited,  balance ${dollars(transfer.fromBalanceAfter)}`);
      console.log(`  ${customer.padEnd(width)}  credited, balance ${dollars(transfer.toBalanceAfter)}`);
    } else if (pay?.error) {
      console.log(`\nTransfer failed: ${pay.error.code}: ${pay.error.message}`);
    }
    // The run completes only after the receiver answered, so its request is here by now.
    const [received] = receiver.received;
    console.log(`\nWebhook received by the demo's partner receiver (${receiver.url('/')}):`);
    if (!received) {
      console.log('  nothing (is 127.0.0.1 in the worker\'s WEBHOOK_ALLOWED_HOSTS?)');
      return;
    }
    const problem = signatureProblem(received, secret);
    console.log(`  ${received.method} ${received.path}`);
    console.log(`  Idempotency-Key: ${String(received.headers['idempotency-key'])}`);
    console.log(`  Creditflow-Signature: ${problem === null ? 'verified with the trigger\'s webhook secret' : `NOT verified (${problem})`}`);
    console.log(`  body: ${received.rawBody.toString('utf8')}`);
  } finally {
    await receiver.stop();
  }
}

/** The event-source examples `npm run demo -- <name>` plays, each with the other side simulated. */
const EXAMPLES: Record<string, { title: string; play(api: ApiClient, cli: CliApi, stamp: string): Promise<void> }> = {
  'low-balance-reminder': {
    title: 'Low-balance reminder (examples/low-balance-reminder, seed 003): a user spends credits; crossing below 20 sends one email',
    async play(api, cli, stamp) {
      const outcome = await playLowBalance(api, cli, stamp, console.log);
      console.log(`\nThe reminder is in MailDev (${MAILDEV_URL}), to ${outcome.owner}.`);
    },
  },
  'auto-top-up': {
    title: 'Automatic top-up (examples/auto-top-up, seed 002): crossing below $10.00 moves $50.00 from the partner\'s master wallet, at most once a day',
    async play(api, cli, stamp) {
      await playAutoTopUp(api, cli, stamp, console.log);
    },
  },
  'wallet-top-up-run': {
    title: 'Wallet top-up payment run (examples/wallet-top-up-run, seed 001): a sweep of low wallets asks the payment gateway, waits for it, then credits',
    async play(api, cli, stamp) {
      const gateway = await GatewayStub.start(api, Number(new URL(GATEWAY_STUB_URL).port));
      try {
        const outcome = await playWalletRun(api, cli, stamp, gateway, console.log);
        console.log('\nBalances (EUR):');
        for (const [wallet, balance] of Object.entries(outcome.balances)) console.log(`  ${wallet.padEnd(24)} ${balance === null ? '-' : (balance / 100).toFixed(2)}`);
        console.log(`\nFirings: npm run cf -- runs --trigger wallet-top-up-run, or GET /v1/triggers/${outcome.triggerId}/firings`);
      } finally {
        await gateway.stop();
      }
    },
  },
  subscriptions: {
    title: 'Packages and subscriptions (seed 003): buy a credit package, subscribe, renew, run out, get notified',
    async play(api, cli, stamp) {
      const outcome = await playSubscriptions(api, cli, stamp, console.log);
      console.log(`\nRenewals: GET /v1/subscriptions/${outcome.subscriptionId}/renewals; the emails are in MailDev (${MAILDEV_URL}); \`npm run cf -- apply examples/package-top-up\` gives the trigger its 30-minute window back.`);
    },
  },
  'bill-run': {
    title: 'Bill payment run (examples/bill-payment-run, seed 001): a daily sweep of unsettled bills asks the card gateway for each, once per open bill',
    async play(api, cli, stamp) {
      const gateway = await PaymentGatewayStub.start(async (event) => {
        const response = await api.call('POST', '/v1/events', event);
        if (response.status >= 300) throw new Error(`the gateway's event answered ${response.status}`);
      }, { port: Number(new URL(DEV_CARD_GATEWAY.url).port) });
      try {
        const outcome = await playBillRun(api, cli, stamp, gateway, console.log);
        console.log(`\nPayment requests: GET /v1/payment-requests?reference=${outcome.bills.due}; bills: GET /v1/records?kind=bill; the email is in MailDev (${MAILDEV_URL}).`);
      } finally {
        await gateway.stop();
      }
    },
  },
};

async function main(): Promise<void> {
  const key = adminKey(process.env).key;
  const api = apiClient(API_URL, key);
  const cli = adminApi(API_URL, key);
  const stamp = Date.now().toString(36);
  const name = process.argv[2];
  if (name !== undefined) {
    const example = EXAMPLES[name];
    if (!example) throw new Error(`no example "${name}"; the examples are ${Object.keys(EXAMPLES).join(', ')} (or none, for the top-up demo)`);
    console.log(`${example.title}\n`);
    await example.play(api, cli, stamp);
    return;
  }
  await topUps(api, cli, stamp);
  await partnerWallet(api, cli, stamp);
  const width = Math.max(...CLI_NEXT_STEPS.map(([command]) => command.length));
  console.log(`\nNext, with the CLI (cli/README.md):\n${CLI_NEXT_STEPS.map(([command, what]) => `  ${command.padEnd(width)}  ${what}`).join('\n')}`);
}

main().catch((error: unknown) => {
  console.error(`demo: ${(error as Error).message}`);
  process.exit(1);
});
