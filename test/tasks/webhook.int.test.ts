import { randomUUID } from 'node:crypto';
import http, { type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createActivities } from '../../activities';
import { verifySignature } from '../../admin-api/signature';
import { createLedger } from '../../engine/ledger';
import { waitOutRoutingLease } from '../../engine/events/routing-cache';
import { createSmtpMailer } from '../../engine/mail/mailer';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../../engine/mail/templates';
import { createWebhookSecrets } from '../../engine/triggers/webhook-secrets';
import { createWebhookSender } from '../../engine/webhooks';
import { createSandbox } from '../../scripts-sandbox';
import { WEBHOOK_LOCAL_TIMEOUT_MS } from '../../tasks/webhook';
import { startTestApi, TEST_ADMIN_KEY, type TestApi } from '../support/api';
import { openTestStore } from '../support/store';
import { startTestWorker, type TestWorker } from '../support/temporal';

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
  /** When it arrived (Date.now()). */
  at: number;
}

interface Answer {
  status: number;
  /** How long the receiver takes before it answers. */
  delayMs?: number;
  headers?: Record<string, string>;
  body?: string;
}

/** A webhook receiver on 127.0.0.1: records every request, and answers each path from its queue (200 `{"ok":true}` when empty). */
class Receiver {
  readonly received: Received[] = [];
  private readonly answers = new Map<string, Answer[]>();
  private server!: Server;

  async start(): Promise<this> {
    this.server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const path = request.url ?? '/';
        this.received.push({ method: request.method ?? '', path, headers: request.headers, rawBody: Buffer.concat(chunks), at: Date.now() });
        const answer = this.answers.get(path)?.shift() ?? { status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
        const reply = () => {
          if (!response.destroyed) response.writeHead(answer.status, answer.headers).end(answer.body ?? '');
        };
        if (answer.delayMs) setTimeout(reply, answer.delayMs);
        else reply();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  answer(path: string, ...answers: Answer[]): void {
    this.answers.set(path, answers);
  }

  at(path: string): Received[] {
    return this.received.filter((request) => request.path === path);
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

let store: Awaited<ReturnType<typeof openTestStore>>;
let worker: TestWorker;
let api: TestApi;
/** Listed in WEBHOOK_ALLOWED_HOSTS (with its port) for both the API and the worker. */
let receiver: Receiver;
/** Also on 127.0.0.1, but on a port the allow-list does not name: the guard refuses it. */
let unlisted: Receiver;
/** Listed too, and answered slowly by one test alone: the worker judges receivers by origin. */
let slow: Receiver;
const sandbox = createSandbox();
const mailer = createSmtpMailer(process.env.SMTP_URL ?? '', 'Creditflow <no-reply@creditflow.test>');

beforeAll(async () => {
  receiver = await new Receiver().start();
  unlisted = await new Receiver().start();
  slow = await new Receiver().start();
  const allowedHosts = [`127.0.0.1:${receiver.port}`, `127.0.0.1:${slow.port}`];
  store = await openTestStore('webhook_task');
  const ledger = createLedger({ connection: store.connection });
  await ledger.ensureIndexes();
  // The API seals secrets under ADMIN_API_KEY when API_KEY_PEPPER is unset; the worker must open them with the same.
  const secrets = createWebhookSecrets({ connection: store.connection, pepper: TEST_ADMIN_KEY });
  worker = await startTestWorker(createActivities({
    connection: store.connection, sandbox, ledger, mailer, templates: fileTemplateCatalog(BUNDLED_TEMPLATES_DIR),
    webhooks: createWebhookSender({ allowedHosts }),
    webhookSecret: (triggerId) => secrets.current(triggerId),
  }));
  api = await startTestApi({ store: store.connection, temporal: worker.client, taskQueue: worker.taskQueue, env: { WEBHOOK_ALLOWED_HOSTS: allowedHosts.join(',') } });
});

afterAll(async () => {
  await api?.close();
  await worker?.stop();
  await Promise.all([receiver?.stop(), unlisted?.stop(), slow?.stop()]);
  sandbox.dispose();
  mailer.close();
  await store?.close();
});

/** A trigger of the test's own (filtered on a fresh tag) whose tasks are given. */
function hookTrigger(tag: string, tasks: unknown[]) {
  return { name: `Webhook ${tag}`, on: { types: ['invoice.paid'], filter: { 'data.tag': tag } }, tasks };
}

function paidEvent(tag: string, data: Record<string, unknown> = {}) {
  return { id: `evt_${randomUUID()}`, type: 'invoice.paid', occurredAt: '2026-11-21T10:00:00Z', data: { tag, invoice: { id: 'inv_7', amount_cents: 4200, paid: true }, customer: { id: 'user_42' }, ...data } };
}

async function create(trigger: unknown): Promise<{ id: string; webhookSecret: string }> {
  const created = await api.request('POST', '/v1/triggers', trigger);
  expect(created.status).toBe(201);
  return created.body;
}

/** Sends the event and returns the finished run as GET /v1/runs/{id} shows it. */
async function runFor(event: unknown) {
  const accepted = await api.request('POST', '/v1/events', event);
  expect(accepted.status).toBe(202);
  const workflowId: string = accepted.body.runs[0].workflowId;
  await worker.client.workflow.getHandle(workflowId).result().catch(() => undefined);
  const run = await api.request('GET', `/v1/runs/${encodeURIComponent(workflowId)}`);
  return { workflowId, ...run.body };
}

function expectSignedWith(request: Received, secret: string): void {
  expect(() => verifySignature({ header: request.headers['creditflow-signature'] as string, rawBody: request.rawBody, secret, nowMs: Date.now() })).not.toThrow();
}

describe('a webhook task', () => {
  it('posts the templated JSON body, signed with the trigger\'s secret and keyed by workflow and task, and outputs the answer', async () => {
    const tag = randomUUID();
    const path = `/paid/${tag}`;
    receiver.answer(path, { status: 201, headers: { 'content-type': 'application/json' }, body: '{"received":true,"id":"rcpt_1"}' });
    const { id, webhookSecret } = await create(hookTrigger(tag, [{
      id: 'notify', type: 'webhook', url: receiver.url(path), headers: { 'X-Customer': '{{data.customer.id}}' },
      body: { invoice: '{{data.invoice}}', amount: '{{data.invoice.amount_cents}}', note: 'paid by {{data.customer.id}}', fixed: [1, true, null] },
    }]));
    expect(webhookSecret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);

    const run = await runFor(paidEvent(tag));
    expect(run.status).toBe('completed');
    expect(run.tasks[0]).toMatchObject({ id: 'notify', status: 'completed', output: { status: 201, body: { received: true, id: 'rcpt_1' } } });
    const [request, ...more] = receiver.at(path);
    expect(more).toHaveLength(0);
    expect(request!.method).toBe('POST');
    expect(JSON.parse(request!.rawBody.toString('utf8'))).toEqual({ invoice: { id: 'inv_7', amount_cents: 4200, paid: true }, amount: 4200, note: 'paid by user_42', fixed: [1, true, null] });
    expect(request!.headers['idempotency-key']).toBe(`${run.workflowId}:notify`);
    expect(request!.headers['x-customer']).toBe('user_42');
    expect(request!.headers['content-type']).toBe('application/json');
    expectSignedWith(request!, webhookSecret);

    const shown = [await api.request('GET', `/v1/triggers/${id}`), await api.request('GET', '/v1/triggers?limit=100'), await api.request('GET', `/v1/triggers/${id}/versions`), await api.request('GET', `/v1/triggers/${id}/versions/1`)];
    for (const response of shown) {
      expect(response.status).toBe(200);
      expect(JSON.stringify(response.body)).not.toContain('whsec_');
    }
  });

  it('retries a receiver answering 503 until it answers 200, with the same Idempotency-Key each time', async () => {
    const tag = randomUUID();
    const path = `/flaky/${tag}`;
    const unavailable = (seconds: number) => ({ status: 503, headers: { 'retry-after': String(seconds) }, body: 'busy' });
    receiver.answer(path, unavailable(4), unavailable(1), { status: 200, body: 'fine' });
    await create(hookTrigger(tag, [{ id: 'notify', type: 'webhook', url: receiver.url(path), body: { ok: true } }]));

    const run = await runFor(paidEvent(tag));
    expect(run.status).toBe('completed');
    expect(run.tasks[0].output).toEqual({ status: 200, body: 'fine' });
    const requests = receiver.at(path);
    expect(requests).toHaveLength(3);
    expect(new Set(requests.map((request) => request.headers['idempotency-key']))).toEqual(new Set([`${run.workflowId}:notify`]));
    // Each retry waited out the receiver's Retry-After (4 s, then 1 s; the policy's own first wait is 2 s), the first (made in the worker) included.
    expect(requests[1]!.at - requests[0]!.at).toBeGreaterThanOrEqual(3_950);
    expect(requests[2]!.at - requests[1]!.at).toBeGreaterThanOrEqual(950);
  });

  it('gives a receiver slower than the first attempt allows its whole timeout on the next, with the same Idempotency-Key', async () => {
    const tag = randomUUID();
    const path = `/slow/${tag}`;
    const late = { status: 200, delayMs: WEBHOOK_LOCAL_TIMEOUT_MS + 1_500, body: 'late but fine' };
    slow.answer(path, late, late);
    await create(hookTrigger(tag, [{ id: 'notify', type: 'webhook', url: slow.url(path), body: { ok: true } }]));

    const run = await runFor(paidEvent(tag));
    expect(run.status).toBe('completed');
    expect(run.tasks[0].output).toEqual({ status: 200, body: 'late but fine' });
    // The first attempt, in the worker, gave up at its bound; the regular activity waited for the answer.
    const requests = slow.at(path);
    expect(requests).toHaveLength(2);
    expect(new Set(requests.map((request) => request.headers['idempotency-key']))).toEqual(new Set([`${run.workflowId}:notify`]));
  });

  it('fails at once with webhook_rejected on a 400; with onError continue a later task still runs and sees the failure', async () => {
    const tag = randomUUID();
    const path = `/rejects/${tag}`;
    const after = `/after/${tag}`;
    receiver.answer(path, { status: 400, headers: { 'content-type': 'application/json' }, body: '{"error":"unknown invoice"}' });
    await create(hookTrigger(tag, [
      { id: 'notify', type: 'webhook', url: receiver.url(path), body: { ok: true }, onError: 'continue' },
      { id: 'report', type: 'webhook', url: receiver.url(after), when: { 'results.notify.status': 'failed' }, body: { failed: '{{results.notify.status}}', code: '{{results.notify.error.code}}' } },
    ]));

    const run = await runFor(paidEvent(tag));
    expect(run.status).toBe('completed');
    expect(run.tasks[0]).toMatchObject({ status: 'failed', error: { code: 'webhook_rejected' } });
    expect(receiver.at(path)).toHaveLength(1);
    expect(run.tasks[1].status).toBe('completed');
    expect(JSON.parse(receiver.at(after)[0]!.rawBody.toString('utf8'))).toEqual({ failed: 'failed', code: 'webhook_rejected' });
  });

  it('refuses, when it runs, a templated URL that resolves to a loopback address the allow-list does not name, sending nothing', async () => {
    const tag = randomUUID();
    await create(hookTrigger(tag, [{ id: 'notify', type: 'webhook', url: '{{data.target}}', body: { ok: true } }]));

    const run = await runFor(paidEvent(tag, { target: unlisted.url(`/internal/${tag}`) }));
    expect(run.status).toBe('failed');
    expect(run.tasks[0]).toMatchObject({ status: 'failed', error: { code: 'webhook_address_refused' } });
    expect(run.tasks[0].error.message).toContain('WEBHOOK_ALLOWED_HOSTS');
    expect(unlisted.received).toHaveLength(0);
  });

  it('signs with the rotated secret from the rotation on, and fails with webhook_secret_missing for a trigger without one', async () => {
    const tag = randomUUID();
    const path = `/rotated/${tag}`;
    const { id, webhookSecret: first } = await create(hookTrigger(tag, [{ id: 'notify', type: 'webhook', url: receiver.url(path), body: { n: 1 } }]));
    const rotated = await api.request('POST', `/v1/triggers/${id}/webhook-secret/rotate`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.webhookSecret).toMatch(/^whsec_/);
    expect(rotated.body.webhookSecret).not.toBe(first);

    await runFor(paidEvent(tag));
    const [request] = receiver.at(path);
    expectSignedWith(request!, rotated.body.webhookSecret);
    expect(() => verifySignature({ header: request!.headers['creditflow-signature'] as string, rawBody: request!.rawBody, secret: first, nowMs: Date.now() })).toThrow();

    expect((await api.request('POST', '/v1/triggers/trg_0000000000000000/webhook-secret/rotate')).status).toBe(404);
    // A trigger saved before triggers had webhook secrets: none is stored for it. (Removed by hand here, so the
    // worker's lease on the secret it read, which a rotation waits out, must run out too.)
    await store.connection.collection('trigger_webhook_secrets').deleteMany({ triggerId: id });
    await waitOutRoutingLease();
    const unsigned = await runFor(paidEvent(tag));
    expect(unsigned.tasks[0]).toMatchObject({ status: 'failed', error: { code: 'webhook_secret_missing' } });
    expect(unsigned.tasks[0].error.message).toContain(`/v1/triggers/${id}/webhook-secret/rotate`);
    expect(receiver.at(path)).toHaveLength(1);
  });

  it('shows in a dry run the request it would send, and sends nothing', async () => {
    const tag = randomUUID();
    const path = `/dry/${tag}`;
    const { id } = await create(hookTrigger(tag, [{ id: 'notify', type: 'webhook', method: 'PUT', url: receiver.url(path), headers: { 'X-Customer': '{{data.customer.id}}' }, body: { amount: '{{data.invoice.amount_cents}}' } }]));

    const dryRun = await api.request('POST', `/v1/triggers/${id}/dry-run`, { event: paidEvent(tag) });
    expect(dryRun.status).toBe(200);
    const [task] = dryRun.body.matched[0].tasks;
    expect(task).toMatchObject({ outcome: 'would_complete', webhook: { method: 'PUT', url: receiver.url(path), body: { amount: 4200 } } });
    expect(task.webhook.headers).toMatchObject({ 'x-customer': 'user_42', 'idempotency-key': expect.stringMatching(/:notify$/), 'content-type': 'application/json' });
    expect(task.webhook.headers).not.toHaveProperty('creditflow-signature');
    expect(receiver.at(path)).toHaveLength(0);
  });
});

describe('saving a webhook task', () => {
  it.each([
    ['an ftp: URL', { url: 'ftp://files.example.com/drop' }, 'tasks.0.url'],
    ['the metadata address', { url: 'http://169.254.169.254/latest/meta-data' }, 'tasks.0.url'],
    ['a loopback port the allow-list does not name', { url: 'http://127.0.0.1:1/hook' }, 'tasks.0.url'],
    ['a reserved header', { url: 'https://hooks.example.com/', headers: { 'Idempotency-Key': 'mine' } }, 'tasks.0.headers'],
  ])('is refused with 422 naming the field for %s', async (_what, fields, path) => {
    const response = await api.request('POST', '/v1/triggers', hookTrigger(randomUUID(), [{ id: 'notify', type: 'webhook', ...fields }]));
    expect(response.status).toBe(422);
    expect(response.body.errors).toEqual([expect.objectContaining({ path })]);
  });
});
