import http, { type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySignature } from '../admin-api/signature';
import { ApiClient } from '../cli/api';
import { applyAll, loadResources, type ApplyResult, type Resource } from '../cli/apply';
import { isDomainError } from '../engine/errors';
import { topUpEvent } from '../engine/triggers/documented-top-up';
import { REPO_DIR } from './paths';

/** The demo's cancellation window: long enough to cancel by hand, short enough to watch. */
export const DEMO_WAIT_SECONDS = 20;
/** The example the demo installs, and the key it has. */
export const DEMO_TRIGGER_FILE = 'examples/account-top-up/trigger.yaml';
export const DEMO_TRIGGER_KEY = 'account-top-up';
/** The second example the demo installs: a partner's master wallet pays a customer's top-up, then a webhook reports it. */
export const PARTNER_WALLET_FILE = 'examples/partner-wallet/trigger.yaml';
export const PARTNER_WALLET_KEY = 'partner-wallet';
/** The account the partner-wallet example transfers from (its `from`). */
export const PARTNER_MASTER_ID = 'partner_master';

/**
 * The keys of the examples' triggers: the two the demo installs, and those
 * `apply examples/` adds beside them. The demo runs beside these and no
 * others, since a trigger of the user's own might react to its events.
 */
export function exampleTriggerKeys(): string[] {
  return loadResources(REPO_DIR, ['examples']).filter((resource) => resource.kind === 'trigger').map((resource) => resource.name);
}

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

/** Applies the partner-wallet example through the CLI's apply, as it is in the file. */
export async function applyPartnerWallet(api: ApiClient): Promise<ApplyResult> {
  const outcome = await applyAll(api, loadResources(REPO_DIR, [PARTNER_WALLET_FILE]));
  if (outcome.failure) throw outcome.failure.error;
  return outcome.results[0]!;
}

/** A `topup.requested` event as the partner-wallet example expects it (examples/partner-wallet/topup.event.json). */
export function partnerTopUpEvent(input: { eventId: string; topupId: string; customer: { id: string; name: string }; amountCents: number; callbackUrl: string }) {
  return {
    id: input.eventId,
    type: 'topup.requested',
    data: {
      paymentMethod: 'partner_wallet',
      topup: { id: input.topupId, amount_cents: input.amountCents, currency: 'USD' },
      customer: input.customer,
      callbackUrl: input.callbackUrl,
    },
  };
}

/** One request a WebhookReceiver got, with the raw body its signature covers. */
export interface ReceivedWebhook {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
}

/** Largest body the receiver keeps; Creditflow sends at most 256 KB. */
const RECEIVER_MAX_BODY_BYTES = 512 * 1024;

/**
 * A webhook receiver on 127.0.0.1 and a free port, playing the partner's
 * system: it records every request and answers 200 `{"received":true}`.
 * The dev worker may call it because WEBHOOK_ALLOWED_HOSTS lists 127.0.0.1.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];

  private constructor(private readonly server: Server) {}

  static async start(): Promise<WebhookReceiver> {
    const server = http.createServer();
    const receiver = new WebhookReceiver(server);
    server.on('request', (request, response) => receiver.handle(request, response));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    return receiver;
  }

  /** `http://127.0.0.1:<port><path>`. */
  url(path: string): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    let bytes = 0;
    request.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= RECEIVER_MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.on('end', () => {
      if (bytes > RECEIVER_MAX_BODY_BYTES) {
        response.writeHead(413).end();
        return;
      }
      this.received.push({ method: request.method ?? '', path: request.url ?? '/', headers: request.headers, rawBody: Buffer.concat(chunks) });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
    });
  }
}

/**
 * What a receiver concludes from a request's Creditflow-Signature: null when
 * it signs the raw body with `secret` within the 5-minute tolerance, else the
 * reason (`signature_mismatch`, `signature_expired`, ...). The same check the
 * API runs on signed event sources.
 */
export function signatureProblem(request: ReceivedWebhook, secret: string): string | null {
  const header = request.headers['creditflow-signature'];
  try {
    verifySignature({ header: Array.isArray(header) ? header[0] : header, rawBody: request.rawBody, secret, nowMs: Date.now() });
    return null;
  } catch (error) {
    if (isDomainError(error)) return error.code;
    throw error;
  }
}

/** Every live trigger (the first 200: the demo only runs beside its own). */
export async function listTriggers(api: ApiClient): Promise<TriggerSummary[]> {
  return (await api.expect<{ items: TriggerSummary[] }>([200], 'listing triggers', 'GET', '/v1/triggers?limit=200')).body.items;
}

/** The renewal sweep the product ships (examples/subscription-renewals), as `apply` reads it. */
export const RENEWALS_TRIGGER_FILE = 'examples/subscription-renewals/trigger.yaml';

/** Applies the renewal sweep's trigger through the CLI's apply. */
export async function applyRenewalSweep(api: ApiClient): Promise<ApplyResult> {
  const outcome = await applyAll(api, loadResources(REPO_DIR, [RENEWALS_TRIGGER_FILE]));
  if (outcome.failure) throw outcome.failure.error;
  return outcome.results[0]!;
}

/**
 * On an empty database, installs the example top-up trigger with the demo's
 * short window, so a new user has something to send events to, and the
 * renewal sweep the product ships (examples/subscription-renewals). Returns
 * the top-up trigger's id, or null when the database has triggers of its own (a trigger already
 * holding the key with another window, e.g. after `apply examples/`, is left
 * as it is, and null is returned too).
 */
export async function seedDemoTrigger(apiUrl: string, adminKey: string): Promise<string | null> {
  const api = adminApi(apiUrl, adminKey);
  const existing = await listTriggers(api);
  const demo = existing.find((trigger) => trigger.key === DEMO_TRIGGER_KEY);
  if (demo) return demo.wait?.seconds === DEMO_WAIT_SECONDS ? demo.id : null;
  if (existing.length > 0) return null;
  const id = (await applyDemoTrigger(api)).id ?? null;
  // The product's renewal sweep comes with a fresh database, like the documented top-up.
  await applyRenewalSweep(api);
  return id;
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
  ['npm run cf -- dry-run examples/partner-wallet/topup.event.json', "what a partner's top-up request would do"],
  ['npm run cf -- apply examples/', "give the top-up trigger the example's own 30-minute window, and install examples/pay-from-balance"],
] as const;
