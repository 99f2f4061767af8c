// The event-source examples played against a running API and worker:
// `npm run demo -- low-balance-reminder | auto-top-up | wallet-top-up-run`.
// Each applies its example folder through the CLI's apply, plays the other
// side (the site's users, the partner, the payment gateway), and returns
// what happened, which the demo prints and the examples' end-to-end tests
// check on the test stack.
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiClient as CliApi } from '../cli/api';
import { applyAll, loadResources, type ApplyResult, type Resource } from '../cli/apply';
import type { ApiClient } from './api-client';
import { PARTNER_MASTER_ID } from './demo-seed';
import { REPO_DIR } from './paths';

export const LOW_BALANCE_FOLDER = 'examples/low-balance-reminder';
export const AUTO_TOP_UP_FOLDER = 'examples/auto-top-up';
export const WALLET_RUN_FOLDER = 'examples/wallet-top-up-run';
/** Where examples/wallet-top-up-run sends its payment requests: the gateway stub listens here. */
export const GATEWAY_STUB_URL = 'http://127.0.0.1:4010/payment-requests';

/** How long a scenario waits for a balance event to be dispatched, or a run or firing to close. */
const SETTLE_TIMEOUT_MS = 60_000;

export interface Entry { id: string; balanceAfter: number }
export interface RunView { workflowId: string; status: string; tasks: Array<{ id: string; status: string; output?: unknown; error?: { code: string; message: string }; skipReason?: string }> }
export interface EventView {
  id: string;
  status: 'received' | 'dispatched';
  runs: Array<{ workflowId: string }>;
  throttled: Array<{ triggerId: string; key: string; until: string }>;
  skipped: Array<{ triggerId: string; key: string; reason: string; workflowId: string }>;
}
export interface FiringView { firingId: string; status: string; matched: number; started: number; throttled: number; skipped: number }

export async function ok<T>(api: ApiClient, expected: number[], method: string, path: string, body?: unknown): Promise<T> {
  const response = await api.call<T>(method, path, body);
  if (!expected.includes(response.status)) throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body;
}

/** Polls `read` until it gives a value, at most SETTLE_TIMEOUT_MS. */
export async function until<T>(what: string, read: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${SETTLE_TIMEOUT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Applies example resources through the CLI's apply, as `npm run cf -- apply` does. */
export async function applyResources(cli: CliApi, resources: Resource[]): Promise<ApplyResult[]> {
  const outcome = await applyAll(cli, resources);
  if (outcome.failure) throw outcome.failure.error;
  return outcome.results;
}

export function exampleResources(folder: string): Resource[] {
  return loadResources(REPO_DIR, [folder]);
}

/** Posts one entry through the API (an admin's or the site's posting). */
export async function post(api: ApiClient, input: { ownerId: string; unit: string; direction: 'credit' | 'debit'; amount: number; key: string; comment?: string }): Promise<Entry> {
  return ok<Entry>(api, [201, 200], 'POST', `/v1/accounts/${encodeURIComponent(input.ownerId)}/entries`, {
    unit: input.unit, direction: input.direction, amount: input.amount, idempotencyKey: input.key, createIfMissing: true, ...(input.comment ? { comment: input.comment } : {}),
  });
}

/** The `account.balance_changed` event of an entry, once the trigger engine has dispatched it. */
export function balanceEventOf(api: ApiClient, entryId: string): Promise<EventView> {
  return until(`the balance event of ${entryId}`, async () => {
    const response = await api.call<EventView>('GET', `/v1/events/${encodeURIComponent(`bal:${entryId}`)}`);
    return response.status === 200 && response.body.status === 'dispatched' ? response.body : undefined;
  });
}

/** The run once it has closed (or whatever it is when `open` says an open run is what the caller wants). */
export function closedRun(api: ApiClient, workflowId: string): Promise<RunView> {
  return until(`run ${workflowId} to close`, async () => {
    const response = await api.call<RunView>('GET', `/v1/runs/${encodeURIComponent(workflowId)}`);
    return response.status === 200 && response.body.status !== 'running' ? response.body : undefined;
  });
}

/** The run as it is now. */
export async function runNow(api: ApiClient, workflowId: string): Promise<RunView> {
  return ok<RunView>(api, [200], 'GET', `/v1/runs/${encodeURIComponent(workflowId)}`);
}

export async function balanceOf(api: ApiClient, ownerId: string, unit: string): Promise<number | null> {
  const response = await api.call<{ balance: number }>('GET', `/v1/accounts/${encodeURIComponent(ownerId)}?unit=${unit}`);
  return response.status === 200 ? response.body.balance : null;
}

// ---------------------------------------------------------------------------
// Seed 003: the low-balance reminder.

export interface LowBalanceOutcome {
  owner: string;
  /** Each debit with the balance after it and the runs its balance event started. */
  steps: Array<{ label: string; balanceAfter: number; runs: RunView[] }>;
}

/**
 * A user with 25 credits spends 3 (22 left: above the threshold, no
 * reminder), then 5 (17: crossed below 20, one reminder), then 2 (15:
 * still below, no second reminder).
 */
export async function playLowBalance(api: ApiClient, cli: CliApi, stamp: string, log: (line: string) => void = () => undefined): Promise<LowBalanceOutcome> {
  const applied = await applyResources(cli, exampleResources(LOW_BALANCE_FOLDER));
  for (const result of applied) log(`  ${result.kind} ${result.name}: ${result.action}`);
  const owner = `agent.${stamp}@irealty.test`;
  const steps: LowBalanceOutcome['steps'] = [];
  const postings = [
    { label: 'buys a 25-credit package', direction: 'credit' as const, amount: 25 },
    { label: 'extends a listing (3 credits)', direction: 'debit' as const, amount: 3 },
    { label: 'features a listing (5 credits)', direction: 'debit' as const, amount: 5 },
    { label: 'bumps a listing (2 credits)', direction: 'debit' as const, amount: 2 },
  ];
  for (const [index, posting] of postings.entries()) {
    const entry = await post(api, { ownerId: owner, unit: 'CREDIT', direction: posting.direction, amount: posting.amount, key: `demo-${stamp}-low-${index}`, comment: posting.label });
    const event = await balanceEventOf(api, entry.id);
    const runs = await Promise.all(event.runs.map((run) => closedRun(api, run.workflowId)));
    steps.push({ label: posting.label, balanceAfter: entry.balanceAfter, runs });
    log(`  ${owner} ${posting.label.padEnd(32)} balance ${String(entry.balanceAfter).padStart(3)}: ${runs.length === 0 ? 'no reminder' : `reminder run ${runs.map((run) => run.status).join(', ')}`}`);
  }
  return { owner, steps };
}

// ---------------------------------------------------------------------------
// Seed 002: the automatic top-up from the partner's master wallet.

export interface AutoTopUpOutcome {
  customer: string;
  /** A customer whose auto top-up is switched off. */
  optedOut: string;
  first: { event: EventView; run: RunView; balanceAfterTopUp: number | null };
  second: { event: EventView; balance: number | null };
  optedOutEvent: EventView;
}

/** The settings the example reads from each customer's profile: top up $50.00 when the USD balance goes below $10.00. */
export const AUTO_TOP_UP_SETTINGS = { threshold: 1000, amount: 5000, unit: 'USD' } as const;

/**
 * The partner funds its master wallet. A customer with auto top-up on
 * (threshold $10.00, amount $50.00 in their profile) has $20.00 and spends
 * $12.00: $8.00 left, below their threshold, so the master wallet tops them
 * up with their $50.00. The same day they spend $50.00 and cross again: the
 * once-a-day rule holds it back, and the event says until when. A customer
 * who switched auto top-up off crosses too, and nothing happens.
 */
export async function playAutoTopUp(api: ApiClient, cli: CliApi, stamp: string, log: (line: string) => void = () => undefined): Promise<AutoTopUpOutcome> {
  const applied = await applyResources(cli, exampleResources(AUTO_TOP_UP_FOLDER));
  for (const result of applied) log(`  ${result.kind} ${result.name}: ${result.action}`);
  await post(api, { ownerId: PARTNER_MASTER_ID, unit: 'USD', direction: 'credit', amount: 100_000, key: `demo-${stamp}-master`, comment: 'The partner pays into its master wallet' });
  const customer = `cust_${stamp}`;
  const optedOut = `cust_${stamp}_off`;
  await ok(api, [200, 201], 'PUT', `/v1/customers/${customer}`, { name: 'Grace', autoTopUp: { enabled: true, ...AUTO_TOP_UP_SETTINGS } });
  await ok(api, [200, 201], 'PUT', `/v1/customers/${optedOut}`, { name: 'Ivan', autoTopUp: { enabled: false, ...AUTO_TOP_UP_SETTINGS } });
  log(`  ${customer}: auto top-up on (below $10.00, top up $50.00); ${optedOut}: the same settings, switched off`);
  for (const owner of [customer, optedOut]) await post(api, { ownerId: owner, unit: 'USD', direction: 'credit', amount: 2000, key: `demo-${stamp}-opening-${owner}`, comment: 'Opening credit' });

  const spend = await post(api, { ownerId: customer, unit: 'USD', direction: 'debit', amount: 1200, key: `demo-${stamp}-spend-1`, comment: 'Calls' });
  const firstEvent = await balanceEventOf(api, spend.id);
  if (firstEvent.runs.length !== 1) throw new Error(`crossing the threshold started ${firstEvent.runs.length} runs, not 1`);
  const run = await closedRun(api, firstEvent.runs[0]!.workflowId);
  const balanceAfterTopUp = await balanceOf(api, customer, 'USD');
  log(`  ${customer} spent $12.00: balance $${(spend.balanceAfter / 100).toFixed(2)}, below $10.00: top-up run ${run.status}, balance now $${((balanceAfterTopUp ?? 0) / 100).toFixed(2)}`);
  const again = await post(api, { ownerId: customer, unit: 'USD', direction: 'debit', amount: 5000, key: `demo-${stamp}-spend-2`, comment: 'More calls' });
  const secondEvent = await balanceEventOf(api, again.id);
  const throttled = secondEvent.throttled[0];
  log(`  ${customer} spent $50.00: balance $${(again.balanceAfter / 100).toFixed(2)}, below again the same day: ${throttled ? `no top-up (at most one a day; the next may run after ${throttled.until})` : `${secondEvent.runs.length} run(s)`}`);

  const offSpend = await post(api, { ownerId: optedOut, unit: 'USD', direction: 'debit', amount: 1200, key: `demo-${stamp}-spend-off`, comment: 'Calls' });
  const optedOutEvent = await balanceEventOf(api, offSpend.id);
  log(`  ${optedOut} spent $12.00: balance $${(offSpend.balanceAfter / 100).toFixed(2)}, auto top-up off: ${optedOutEvent.runs.length} run(s)`);
  return { customer, optedOut, first: { event: firstEvent, run, balanceAfterTopUp }, second: { event: secondEvent, balance: await balanceOf(api, customer, 'USD') }, optedOutEvent };
}

// ---------------------------------------------------------------------------
// Seed 001: the wallet top-up payment run, with a payment gateway stub.

export interface PaymentRequest { paymentRequestId: string; wallet: string; currency: string; amount: number; balance: unknown; idempotencyKey: string }

/**
 * The customer's payment gateway: takes payment requests (answers 202
 * `pending`) and, when told to, confirms one by sending
 * `payment.confirmed` to Creditflow, as a gateway's callback would.
 */
export class GatewayStub {
  readonly requests: PaymentRequest[] = [];

  private constructor(private readonly server: Server, private readonly api: ApiClient) {}

  /** Listens on 127.0.0.1 at `port` (0: a free one). */
  static async start(api: ApiClient, port: number): Promise<GatewayStub> {
    const server = http.createServer();
    const stub = new GatewayStub(server, api);
    server.on('request', (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Omit<PaymentRequest, 'idempotencyKey'>;
          const idempotencyKey = String(request.headers['idempotency-key'] ?? '');
          // A retried request (same Idempotency-Key) is the same payment request.
          if (!stub.requests.some((known) => known.idempotencyKey === idempotencyKey)) stub.requests.push({ ...body, idempotencyKey });
          response.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ paymentRequestId: body.paymentRequestId, status: 'pending' }));
        } catch {
          response.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    return stub;
  }

  url(path = '/payment-requests'): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  /** The gateway's callback: the payment request was paid. */
  async confirm(request: PaymentRequest): Promise<void> {
    await ok(this.api, [202, 200], 'POST', '/v1/events', {
      id: `gw_${request.paymentRequestId}`, type: 'payment.confirmed',
      data: { paymentRequestId: request.paymentRequestId, wallet: request.wallet, amount: request.amount, currency: request.currency, status: 'paid' },
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

/** The wallet-top-up-run example as apply reads it, sending to `gatewayUrl` instead of the file's address. */
export function walletRunResources(gatewayUrl: string): Resource[] {
  return exampleResources(WALLET_RUN_FOLDER).map((resource) => {
    if (resource.kind !== 'trigger') return resource;
    const tasks = (resource.body.tasks as Array<Record<string, unknown>>).map((task) => (task.type === 'webhook' ? { ...task, url: gatewayUrl } : task));
    return { ...resource, body: { ...resource.body, tasks } };
  });
}

export interface WalletRunOutcome {
  triggerId: string;
  wallets: Record<'low' | 'lower' | 'funded', string>;
  firstFiring: FiringView;
  secondFiring: FiringView;
  requests: PaymentRequest[];
  paidRun: RunView;
  balances: Record<string, number | null>;
}

/** Fires the trigger now (the admin's "submit now") and waits for the firing to finish. */
export async function fireNow(api: ApiClient, triggerId: string): Promise<FiringView> {
  const fired = await ok<FiringView>(api, [202, 200], 'POST', `/v1/triggers/${encodeURIComponent(triggerId)}/fire`);
  return until(`firing ${fired.firingId}`, async () => {
    const response = await api.call<FiringView>('GET', `/v1/triggers/${encodeURIComponent(triggerId)}/firings/${encodeURIComponent(fired.firingId)}`);
    return response.status === 200 && !['pending', 'running'].includes(response.body.status) ? response.body : undefined;
  });
}

/**
 * Three EUR wallets: 5.00 and 8.00 (at or below the 10.00 threshold) and
 * 30.00. The admin submits the run now: two payment requests reach the
 * gateway. The gateway confirms the first; that wallet is credited 50.00.
 * The admin submits again: the paid wallet is above the threshold now, and
 * the other is skipped, its request still open.
 */
export async function playWalletRun(api: ApiClient, cli: CliApi, stamp: string, gateway: GatewayStub, log: (line: string) => void = () => undefined): Promise<WalletRunOutcome> {
  const wallets = { low: `wallet_${stamp}_a`, lower: `wallet_${stamp}_b`, funded: `wallet_${stamp}_c` };
  const opening = { low: 500, lower: 800, funded: 3000 } as const;
  for (const [name, ownerId] of Object.entries(wallets) as Array<[keyof typeof wallets, string]>) {
    await post(api, { ownerId, unit: 'EUR', direction: 'credit', amount: opening[name], key: `demo-${stamp}-${name}`, comment: 'Prepaid balance' });
  }
  const [applied] = (await applyResources(cli, walletRunResources(gateway.url()))).filter((result) => result.kind === 'trigger');
  log(`  trigger ${applied!.name}: ${applied!.action} (every 3 days; the gateway stub is ${gateway.url()})`);
  const triggerId = applied!.id!;

  const firstFiring = await fireNow(api, triggerId);
  log(`  submitted now: ${firstFiring.matched} wallet(s) at or below EUR 10.00, ${firstFiring.started} payment request run(s) started`);
  const ours = () => gateway.requests.filter((request) => Object.values(wallets).includes(request.wallet));
  const requests = await until('the payment requests at the gateway', async () => (ours().length >= 2 ? ours() : undefined));
  for (const request of requests) log(`  gateway got payment request for ${request.wallet}: EUR ${(request.amount / 100).toFixed(2)} (Idempotency-Key ${request.idempotencyKey})`);

  const paid = requests.find((request) => request.wallet === wallets.low)!;
  await gateway.confirm(paid);
  const paidRun = await closedRun(api, paid.paymentRequestId);
  log(`  gateway confirmed ${paid.wallet}: run ${paidRun.status}, wallet credited`);

  const secondFiring = await fireNow(api, triggerId);
  log(`  submitted again: ${secondFiring.matched} matched, ${secondFiring.started} started, ${secondFiring.skipped} skipped (its request is still open)`);
  const balances = Object.fromEntries(await Promise.all(Object.values(wallets).map(async (ownerId) => [ownerId, await balanceOf(api, ownerId, 'EUR')] as const)));
  return { triggerId, wallets, firstFiring, secondFiring, requests, paidRun, balances };
}
