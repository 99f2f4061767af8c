/**
 * Throttle and singleton across API replicas: two real API processes on one
 * store and one Temporal, 50 concurrent matching events per key, and exactly
 * one run per key and window.
 */
import { createActivities } from '../../activities';
import { createLedger } from '../../engine/ledger';
import { createSmtpMailer } from '../../engine/mail/mailer';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../../engine/mail/templates';
import { endOfLocalDay } from '../../engine/events/run-gates';
import { createSandbox } from '../../scripts-sandbox';
import { startApiProcess, type ApiProcess } from '../support/api-process';
import { openTestStore } from '../support/store';
import { startTestWorker, type TestWorker } from '../support/temporal';

jest.setTimeout(180_000);

const EVENTS_PER_KEY = 50;

let store: Awaited<ReturnType<typeof openTestStore>>;
let worker: TestWorker;
let sandbox: ReturnType<typeof createSandbox>;
let mailer: ReturnType<typeof createSmtpMailer>;
const apis: ApiProcess[] = [];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function request(apiIndex: number, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  return apis[apiIndex]!.request(method, path, body);
}

async function createTrigger(body: unknown): Promise<string> {
  const response = await request(0, 'POST', '/v1/triggers', body);
  if (response.status !== 201) throw new Error(`creating the trigger answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body.id;
}

/** Sends `perKey` events for each key at once, alternating between the two API processes. */
async function burst(type: string, keys: string[], perKey: number, prefix: string) {
  const sends = keys.flatMap((key) => Array.from({ length: perKey }, (_, index) => ({ key, index })));
  return Promise.all(sends.map(async ({ key, index }) => {
    const response = await request(index % 2, 'POST', '/v1/events', { id: `${prefix}-${key}-${index}`, type, data: { customer: key } });
    expect(response.status).toBe(202);
    return { key, ...response.body };
  }));
}

function creditTask() {
  return { id: 'credit', type: 'account', action: 'credit', owner: '{{data.customer}}', unit: 'CREDIT', amount: 1, createIfMissing: true };
}

beforeAll(async () => {
  store = await openTestStore('run_gates');
  const ledger = createLedger({ connection: store.connection });
  await ledger.ensureIndexes();
  sandbox = createSandbox();
  mailer = createSmtpMailer(process.env.SMTP_URL ?? '', 'Creditflow <no-reply@creditflow.test>');
  worker = await startTestWorker(createActivities({ connection: store.connection, sandbox, ledger, mailer, templates: fileTemplateCatalog(BUNDLED_TEMPLATES_DIR) }));
  const where = { storeUri: store.uri, dbName: store.dbName, taskQueue: worker.taskQueue };
  apis.push(...(await Promise.all([startApiProcess(where), startApiProcess(where)])));
});

afterAll(async () => {
  await Promise.all(apis.map((api) => api.stop()));
  await worker?.stop();
  sandbox?.dispose();
  mailer?.close();
  await store?.close();
});

describe('throttle per calendar day', () => {
  it('starts exactly one run per key and day across two API processes, and lists the rest as throttled until local midnight', async () => {
    const timezone = 'Europe/Nicosia';
    const triggerId = await createTrigger({
      name: 'Daily top-up', on: { types: ['usage.recorded'] }, throttle: { key: '{{data.customer}}', per: 'day', timezone }, tasks: [creditTask()],
    });
    const before = new Date();
    const results = await burst('usage.recorded', ['cust_a', 'cust_b'], EVENTS_PER_KEY, 'daily');
    const after = new Date();

    for (const key of ['cust_a', 'cust_b']) {
      const forKey = results.filter((result) => result.key === key);
      expect(forKey.flatMap((result) => result.runs)).toHaveLength(1);
      const throttled = forKey.flatMap((result) => result.throttled);
      expect(throttled).toHaveLength(EVENTS_PER_KEY - 1);
      // The window ends at the next midnight in Nicosia (the test may straddle one: either end is right).
      const ends = new Set([endOfLocalDay(before, timezone).toISOString(), endOfLocalDay(after, timezone).toISOString()]);
      for (const entry of throttled) {
        expect(entry).toEqual({ triggerId, key, until: expect.any(String) });
        expect(ends.has(entry.until)).toBe(true);
      }
    }

    // What the event response said is stored on the event.
    const held = results.find((result) => result.throttled.length > 0)!;
    const stored = await request(1, 'GET', `/v1/events/${encodeURIComponent(held.eventId)}`);
    expect(stored.body.throttled).toEqual(held.throttled);
    expect(stored.body.runs).toEqual([]);

    // A retried delivery of a throttled event answers as before and starts nothing.
    const retried = await request(0, 'POST', '/v1/events', { id: held.eventId, type: 'usage.recorded', data: { customer: held.key } });
    expect(retried.status).toBe(200);
    expect(retried.body.throttled).toEqual(held.throttled);
    expect(retried.body.runs).toEqual([]);
  });
});

describe('throttle with a rolling interval', () => {
  it('lets the next run through once the interval since the last one has passed', async () => {
    await createTrigger({
      name: 'At most every 2 s', on: { types: ['meter.read'] }, throttle: { key: '{{data.customer}}', minIntervalSeconds: 2 }, tasks: [creditTask()],
    });
    const first = await burst('meter.read', ['cust_r'], 10, 'rolling-1');
    expect(first.flatMap((result) => result.runs)).toHaveLength(1);
    const until = first.flatMap((result) => result.throttled).map((entry) => Date.parse(entry.until));
    expect(until).toHaveLength(9);
    expect(new Set(until).size).toBe(1);

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, until[0]! - Date.now()) + 100));
    const second = await burst('meter.read', ['cust_r'], 10, 'rolling-2');
    expect(second.flatMap((result) => result.runs)).toHaveLength(1);
    expect(second.flatMap((result) => result.throttled)).toHaveLength(9);
  });
});

describe('singleton', () => {
  it('skips matches while the key\'s run is open, naming that run, and starts again once it closed', async () => {
    const triggerId = await createTrigger({
      name: 'One open payment per customer', on: { types: ['wallet.low'] }, singleton: { key: '{{data.customer}}' }, wait: { seconds: 3600 }, tasks: [creditTask()],
    });
    const results = await burst('wallet.low', ['cust_s', 'cust_t'], EVENTS_PER_KEY, 'single');
    for (const key of ['cust_s', 'cust_t']) {
      const forKey = results.filter((result) => result.key === key);
      const runs = forKey.flatMap((result) => result.runs);
      expect(runs).toHaveLength(1);
      const skipped = forKey.flatMap((result) => result.skipped);
      expect(skipped).toHaveLength(EVENTS_PER_KEY - 1);
      for (const entry of skipped) expect(entry).toEqual({ triggerId, key, reason: 'run_open', workflowId: runs[0].workflowId });
    }

    // The open run of cust_s ends; the next match for cust_s starts a new run, cust_t's is still held back.
    const openRun = results.find((result) => result.key === 'cust_s' && result.runs.length === 1)!.runs[0].workflowId;
    await worker.client.workflow.getHandle(openRun).terminate('test: the payment was settled');
    const afterClose = await request(1, 'POST', '/v1/events', { id: 'single-after-s', type: 'wallet.low', data: { customer: 'cust_s' } });
    expect(afterClose.body.runs).toHaveLength(1);
    expect(afterClose.body.runs[0].workflowId).not.toBe(openRun);
    const stillOpen = await request(0, 'POST', '/v1/events', { id: 'single-after-t', type: 'wallet.low', data: { customer: 'cust_t' } });
    expect(stillOpen.body.runs).toEqual([]);
    expect(stillOpen.body.skipped).toHaveLength(1);
  });
});

describe('bad gate specs', () => {
  it('answers 422 naming the field', async () => {
    const base = { name: 'bad', on: { types: ['usage.recorded'] }, tasks: [creditTask()] };
    const zone = await request(0, 'POST', '/v1/triggers', { ...base, throttle: { key: '{{data.customer}}', per: 'day', timezone: 'Mars/Olympus' } });
    expect(zone.status).toBe(422);
    expect(zone.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'throttle.timezone' })]));
    const both = await request(0, 'POST', '/v1/triggers', { ...base, throttle: { key: 'k', per: 'day', minIntervalSeconds: 60 } });
    expect(both.status).toBe(422);
    expect(JSON.stringify(both.body.errors)).toContain('throttle');
    const noKey = await request(0, 'POST', '/v1/triggers', { ...base, singleton: {} });
    expect(noKey.status).toBe(422);
    expect(noKey.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'singleton.key' })]));
  });
});
