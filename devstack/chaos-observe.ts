// Reads what the stack ended with, as the facts chaos-invariants.ts judges:
// runs and events through the API, ledger entries through
// GET /v1/accounts/{ownerId}/entries, mail through MailDev's REST API (it
// keeps mail in a folder, so a restart loses none it had written), the
// outbox only to explain a mail MailDev lacks, and ledger:verify as its own
// process.
import path from 'node:path';
import { messageIdFor, outboxModel } from '../engine/mail/outbox';
import { connectStore } from '../engine/store';
import type { RetryingClient } from './chaos-client';
import type { ChaosFacts, EntryFacts, EventFacts, LoyaltyFacts, MailFacts, PurchaseFacts, RunStatus } from './chaos-invariants';
import { isAccepted, type PurchaseRecord } from './chaos-records';
import { REPO_DIR } from './paths';
import { runCommand } from './run-command';

/** The top-up's email task id (examples/account-top-up/trigger.yaml): its outbox key is `<workflowId>:notify`. */
const NOTIFY_TASK_ID = 'notify';
const PAGE_LIMIT = 200;
/** Pages read per list at most: far beyond what a run of 5,000 purchases writes. */
const MAX_PAGES = 200;
const VERIFY_TIMEOUT_MS = 300_000;
/** Reads of a few hundred items run this many at a time, to spare the 2 cores the stack shares. */
const READ_CONCURRENCY = 8;

export interface ObserveContext {
  readonly client: RetryingClient;
  readonly maildevUrl: string;
  readonly mongodbUri: string;
  readonly windowMs: number;
  readonly heartbeatId: string;
  readonly mailDevKills: readonly number[];
}

interface RunSummary {
  workflowId: string;
}

/** Workflow ids of the runs still open, all triggers. */
export async function openRuns(client: RetryingClient): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const query: string = `/v1/runs?status=running&limit=${PAGE_LIMIT}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const answer = await client.get<{ items: RunSummary[]; nextCursor: string | null }>(query);
    if (answer.status !== 200) throw new Error(`GET /v1/runs answered ${answer.status}`);
    ids.push(...answer.body.items.map((run) => run.workflowId));
    cursor = answer.body.nextCursor;
    if (!cursor) break;
  }
  return ids;
}

/** Everything but ledger:verify, which runs once at the end (it also repairs what trails). */
export async function observe(records: readonly PurchaseRecord[], context: ObserveContext, ledgerVerify: ChaosFacts['ledgerVerify']): Promise<ChaosFacts> {
  const { client } = context;
  const owners = [...new Set(records.map((record) => record.plan.ownerId))];
  const [open, mails, usdByOwner, pointsByOwner, firings] = await Promise.all([
    openRuns(client),
    maildevMails(context.maildevUrl),
    entriesByOwner(client, owners, 'USD'),
    entriesByOwner(client, owners, 'CREDIT'),
    heartbeatFirings(client, context.heartbeatId),
  ]);
  const mailCopies = new Map<string, number>();
  for (const mail of mails) mailCopies.set(mail.messageId, (mailCopies.get(mail.messageId) ?? 0) + 1);
  const purchases = await inBatches(records, (record) => purchaseFacts(record, client, usdByOwner.get(record.plan.ownerId) ?? [], mailCopies));
  const withOutbox = await explainMissingMails(purchases, context.mongodbUri);
  const loyalty: LoyaltyFacts[] = owners.map((ownerId) => ({
    ownerId,
    usdCredits: (usdByOwner.get(ownerId) ?? []).filter((entry) => entry.direction === 'credit'),
    points: pointsByOwner.get(ownerId) ?? [],
  }));
  return { windowMs: context.windowMs, purchases: withOutbox, openRuns: open, mails, loyalty, firings, ledgerVerify, mailDevKills: context.mailDevKills };
}

/** `npm run ledger:verify` on the chaos store: clean when it exits 0. */
export async function verifyLedger(mongodbUri: string): Promise<ChaosFacts['ledgerVerify']> {
  const result = await runCommand(process.execPath, ['--import', 'tsx', path.join(REPO_DIR, 'engine', 'ledger', 'verify-main.ts')], { cwd: REPO_DIR, env: { ...process.env, MONGODB_URI: mongodbUri }, timeoutMs: VERIFY_TIMEOUT_MS });
  const report = `${result.stdout}${result.stderr}`.trim();
  return { clean: result.exitCode === 0, report: report || `exit code ${result.exitCode}` };
}

async function purchaseFacts(record: PurchaseRecord, client: RetryingClient, usdEntries: readonly EntryFacts[], mailCopies: ReadonlyMap<string, number>): Promise<PurchaseFacts> {
  const messageId = bare(messageIdFor(`${record.workflowId}:${NOTIFY_TASK_ID}`));
  const [purchaseEvent, cancelEvent, run] = await Promise.all([
    eventFacts(client, record.plan.purchase.id),
    record.plan.cancel && record.cancelPosts.some(isAccepted) ? eventFacts(client, record.plan.cancel.id) : Promise.resolve(undefined),
    runStatus(client, record.workflowId),
  ]);
  return {
    record,
    purchaseEvent,
    ...(cancelEvent ? { cancelEvent } : {}),
    run: { status: run },
    credits: usdEntries.filter((entry) => entry.workflowId === record.workflowId),
    messageId,
    mailCopies: mailCopies.get(messageId) ?? 0,
  };
}

async function eventFacts(client: RetryingClient, id: string): Promise<EventFacts> {
  const answer = await client.get<{ status: 'received' | 'dispatched'; runs: Array<{ workflowId: string }> }>(`/v1/events/${encodeURIComponent(id)}`);
  if (answer.status === 404) return { status: 'missing', runs: [] };
  if (answer.status !== 200) throw new Error(`GET /v1/events/${id} answered ${answer.status}`);
  return { status: answer.body.status, runs: answer.body.runs.map((run) => run.workflowId) };
}

async function runStatus(client: RetryingClient, workflowId: string): Promise<RunStatus> {
  const answer = await client.get<{ status: RunStatus }>(`/v1/runs/${encodeURIComponent(workflowId)}`);
  if (answer.status === 404) return 'missing';
  if (answer.status !== 200) throw new Error(`GET /v1/runs/${workflowId} answered ${answer.status}`);
  return answer.body.status;
}

interface EntryView {
  id: string;
  amount: number;
  direction: string;
  source: { kind: string; workflowId?: string; eventId?: string };
}

async function entriesByOwner(client: RetryingClient, owners: readonly string[], unit: string): Promise<Map<string, EntryFacts[]>> {
  const lists = await inBatches(owners, async (ownerId) => [ownerId, await entriesOf(client, ownerId, unit)] as const);
  return new Map(lists);
}

async function entriesOf(client: RetryingClient, ownerId: string, unit: string): Promise<EntryFacts[]> {
  const entries: EntryFacts[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const query: string = `/v1/accounts/${encodeURIComponent(ownerId)}/entries?unit=${unit}&limit=${PAGE_LIMIT}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const answer = await client.get<{ items: EntryView[]; nextCursor: string | null }>(query);
    if (answer.status === 404) return [];
    if (answer.status !== 200) throw new Error(`GET ${query} answered ${answer.status}`);
    entries.push(...answer.body.items.map((entry) => ({
      id: entry.id, amount: entry.amount, direction: entry.direction,
      ...(entry.source.workflowId ? { workflowId: entry.source.workflowId } : {}),
      ...(entry.source.eventId ? { eventId: entry.source.eventId } : {}),
    })));
    cursor = answer.body.nextCursor;
    if (!cursor) break;
  }
  return entries;
}

interface MaildevMail {
  messageId?: string;
  headers?: Record<string, string>;
  to?: Array<{ address: string }>;
}

async function maildevMails(maildevUrl: string): Promise<MailFacts[]> {
  const response = await fetch(`${maildevUrl}/email`, { signal: AbortSignal.timeout(30_000) });
  if (!response.ok) throw new Error(`MailDev's GET /email answered ${response.status}`);
  const mails = (await response.json()) as MaildevMail[];
  return mails.map((mail) => ({
    messageId: bare(mail.messageId ?? mail.headers?.['message-id'] ?? ''),
    recipients: (mail.to ?? []).map((to) => to.address.toLowerCase()),
  }));
}

/** The heartbeat's firings still running (id and status): open work, like an open run, while the run settles. */
export async function runningFirings(client: RetryingClient, heartbeatId: string): Promise<string[]> {
  return (await heartbeatFirings(client, heartbeatId)).notCompleted.filter((firing) => firing.endsWith('(running)'));
}

async function heartbeatFirings(client: RetryingClient, heartbeatId: string): Promise<ChaosFacts['firings']> {
  let total = 0;
  const notCompleted: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const query: string = `/v1/triggers/${heartbeatId}/firings?limit=${PAGE_LIMIT}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const answer = await client.get<{ items: Array<{ firingId: string; status: string }>; nextCursor: string | null }>(query);
    if (answer.status !== 200) throw new Error(`GET ${query} answered ${answer.status}`);
    total += answer.body.items.length;
    // not_run: the firing came after the heartbeat was disabled for settling.
    notCompleted.push(...answer.body.items.filter((firing) => firing.status !== 'completed' && firing.status !== 'not_run').map((firing) => `${firing.firingId} (${firing.status})`));
    cursor = answer.body.nextCursor;
    if (!cursor) break;
  }
  return { total, notCompleted };
}

/** For each completed purchase whose mail MailDev lacks: when the engine's outbox recorded it as accepted, if it did. */
async function explainMissingMails(purchases: PurchaseFacts[], mongodbUri: string): Promise<PurchaseFacts[]> {
  const missing = purchases.filter((p) => p.run.status === 'completed' && p.record.plan.expectedCreditCents > 0 && p.mailCopies === 0);
  if (missing.length === 0) return purchases;
  const connection = await connectStore(mongodbUri);
  try {
    const outbox = outboxModel(connection);
    const sentAt = new Map<string, number>();
    for (const purchase of missing) {
      const sent = await outbox.findById(`${purchase.record.workflowId}:${NOTIFY_TASK_ID}`).lean();
      if (sent) sentAt.set(purchase.record.workflowId, sent.sentAt.getTime());
    }
    return purchases.map((p) => (sentAt.has(p.record.workflowId) ? { ...p, outboxSentAt: sentAt.get(p.record.workflowId)! } : p));
  } finally {
    await connection.close();
  }
}

function bare(messageId: string): string {
  return messageId.trim().replace(/^<|>$/g, '');
}

async function inBatches<T, R>(items: readonly T[], read: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += READ_CONCURRENCY) {
    results.push(...(await Promise.all(items.slice(start, start + READ_CONCURRENCY).map(read))));
  }
  return results;
}
