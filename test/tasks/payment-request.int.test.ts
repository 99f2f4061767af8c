// The payment_request task on a real API, worker and store, against the
// local gateway stub over HTTP: one request per open reference (also when
// two runs race), states driven by the gateway's events, a refusal, an
// expiry, a gateway that never answers (retried on its own short schedule,
// then expired), and bad input.
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { PaymentGatewayStub } from '../../devstack/payment-gateway-stub';
import { createPaymentRequests } from '../../engine/payments/payment-requests';
import { connectStore } from '../../engine/store';
import { startEngineHarness, type EngineHarness } from '../support/engine-harness';

let engine: EngineHarness;
let gateway: PaymentGatewayStub;
let type: string;

beforeAll(async () => {
  gateway = await PaymentGatewayStub.start(async (event) => {
    const response = await engine.api.request('POST', '/v1/events', event);
    if (response.status >= 300) throw new Error(`the gateway's event answered ${response.status}`);
  }, { refuse: (request) => (request.reference.startsWith('declined-') ? 'card_expired' : undefined), hold: (request) => request.reference.startsWith('silent-') });
  engine = await startEngineHarness('payment_requests', {
    gateways: {
      card: { url: gateway.url(), secret: 'gwsec_test_0123456789abcdef' },
      // Gateways that are down, on schedules of seconds rather than the default 20 minutes:
      // the stub holding the connection (each call times out), and a closed port (refused at once).
      silent: { url: gateway.url(), secret: 'gwsec_test_0123456789abcdef', submit: { timeoutMs: 1_000, maximumAttempts: 3, initialIntervalMs: 500, maximumIntervalMs: 1_000 } },
      closed: { url: `http://127.0.0.1:${await closedPort()}/payment-requests`, secret: 'gwsec_test_0123456789abcdef', submit: { maximumAttempts: 2, initialIntervalMs: 200 } },
    },
  });
  type = `bill${randomUUID().slice(0, 6)}.due`;
  await engine.createTrigger({
    name: 'Pay the bill', on: { types: [type] },
    tasks: [{ id: 'pay', type: 'payment_request', gateway: 'card', amountFrom: 'data.amount', unit: 'EUR', ownerId: '{{data.ownerId}}', reference: '{{data.bill}}', timeoutSeconds: 600 }],
  });
});
afterAll(async () => {
  await engine?.close();
  await gateway?.stop();
});

/** A port nothing listens on: taken, then given back. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function until<T>(probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(100);
  }
}

const send = (data: Record<string, unknown>, eventType = type) => engine.api.request('POST', '/v1/events', { id: `evt_${randomUUID()}`, type: eventType, data });
const requestsFor = async (reference: string) => (await engine.api.request('GET', `/v1/payment-requests?reference=${encodeURIComponent(reference)}`)).body.items as Array<Record<string, unknown>>;
const atGateway = (reference: string) => until(() => gateway.requests.find((request) => request.reference === reference));

describe('payment requests created by racing processes', () => {
  it('creates exactly one open request for a reference when twenty creators on two connections race', async () => {
    const second = await connectStore(process.env.MONGODB_URI!, { dbName: engine.connection.name });
    try {
      const stores = [createPaymentRequests(engine.connection), createPaymentRequests(second)];
      const reference = `B-${randomUUID().slice(0, 8)}`;
      const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => stores[i % 2]!.create({ id: `pr_race_${reference}_${i}`, reference, gateway: 'card', ownerId: 'cust-r', amount: 100, unit: 'EUR', workflowId: `wf-${i}`, expiresInSeconds: 600 })));
      const created = outcomes.flatMap((outcome) => ('created' in outcome ? [outcome.created.id] : []));
      expect(created).toHaveLength(1);
      expect(outcomes.filter((outcome) => 'open' in outcome).map((outcome) => ('open' in outcome ? outcome.open.id : ''))).toEqual(Array(19).fill(created[0]));
      expect(await requestsFor(reference)).toEqual([expect.objectContaining({ id: created[0], state: 'pending' })]);
    } finally {
      await second.close();
    }
  });
});

describe('payment_request', () => {
  it('creates a pending request, submits it signed with the request id as Idempotency-Key, and follows the gateway to succeeded', async () => {
    const bill = `B-${randomUUID().slice(0, 8)}`;
    const sent = await send({ bill, ownerId: 'cust-1', amount: 4_200 });
    const submitted = await atGateway(bill);
    expect(submitted).toMatchObject({ reference: bill, ownerId: 'cust-1', amount: 4_200, unit: 'EUR', idempotencyKey: submitted.paymentRequestId });
    expect(submitted.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(await requestsFor(bill)).toEqual([expect.objectContaining({ id: submitted.paymentRequestId, state: 'pending', amount: 4_200, gateway: 'card' })]);

    await gateway.process(submitted.paymentRequestId);
    expect((await engine.api.request('GET', `/v1/payment-requests/${submitted.paymentRequestId}`)).body).toMatchObject({ state: 'under_processing' });
    await gateway.succeed(submitted.paymentRequestId);
    const run = await engine.settledRun(sent.body.runs[0].workflowId);
    expect(run.status).toBe('completed');
    expect(run.tasks[0].output).toMatchObject({
      paymentRequest: { id: submitted.paymentRequestId, reference: bill, gateway: 'card', ownerId: 'cust-1', amount: 4_200, unit: 'EUR' },
      event: { type: 'payment_request.succeeded', data: { paymentRequest: { id: submitted.paymentRequestId } } },
    });
    expect((await engine.api.request('GET', `/v1/payment-requests/${submitted.paymentRequestId}`)).body).toMatchObject({ state: 'succeeded', reason: null, processingAt: expect.any(String), finishedAt: expect.any(String) });
    expect((await engine.api.request('GET', `/v1/payment-requests?reference=${bill}&state=succeeded`)).body.items).toHaveLength(1);
  });

  it('skips a second request for a reference while one is open (request_open), also when two runs race, and allows one after the first failed', async () => {
    const bill = `B-${randomUUID().slice(0, 8)}`;
    const [first, second] = await Promise.all([send({ bill, ownerId: 'cust-2', amount: 900 }), send({ bill, ownerId: 'cust-2', amount: 900 })]);
    const skippedRun = await until(async () => {
      for (const sent of [first, second]) {
        const view = (await engine.api.request('GET', `/v1/runs/${encodeURIComponent(sent.body.runs[0].workflowId)}`)).body;
        if (view.tasks?.[0]?.status === 'skipped') return view;
      }
      return undefined;
    });
    expect(skippedRun.tasks[0]).toMatchObject({ status: 'skipped', skipReason: 'request_open' });
    const [open] = await requestsFor(bill);
    expect(await requestsFor(bill)).toHaveLength(1);
    expect(gateway.requests.filter((request) => request.reference === bill)).toHaveLength(1);

    await gateway.fail(open!.id as string, 'insufficient_funds');
    const failedRun = await engine.settledRun(open!.workflowId as string);
    expect(failedRun.tasks[0].output).toMatchObject({ paymentRequest: { id: open!.id }, event: { type: 'payment_request.failed' } });
    expect((await engine.api.request('GET', `/v1/payment-requests/${open!.id}`)).body).toMatchObject({ state: 'failed', reason: 'insufficient_funds' });

    // The failed request no longer holds the bill: the next run creates a new one.
    await send({ bill, ownerId: 'cust-2', amount: 900 });
    await until(() => gateway.requests.filter((request) => request.reference === bill).length === 2);
    expect((await requestsFor(bill)).map((request) => request.state).sort()).toEqual(['failed', 'pending']);
  });

  it('fails with gateway_refused and the gateway\'s reason when the gateway answers 4xx, the request failed', async () => {
    const bill = `declined-${randomUUID().slice(0, 8)}`;
    const sent = await send({ bill, ownerId: 'cust-3', amount: 500 });
    const run = await engine.settledRun(sent.body.runs[0].workflowId);
    expect(run.tasks[0]).toMatchObject({ status: 'failed', error: { code: 'gateway_refused', message: expect.stringContaining('card_expired') } });
    expect(await requestsFor(bill)).toEqual([expect.objectContaining({ state: 'failed', reason: 'card_expired' })]);
  });

  it('expires the request when the gateway reports nothing in time, failing the task with wait_timeout', async () => {
    const eventType = `bill${randomUUID().slice(0, 6)}.due`;
    await engine.createTrigger({ name: 'Quick', on: { types: [eventType] }, tasks: [{ id: 'pay', type: 'payment_request', gateway: 'card', amount: 100, unit: 'EUR', ownerId: 'cust-4', reference: '{{data.bill}}', timeoutSeconds: 2 }] });
    const bill = `B-${randomUUID().slice(0, 8)}`;
    const sent = await send({ bill }, eventType);
    const run = await engine.settledRun(sent.body.runs[0].workflowId);
    expect(run.tasks[0]).toMatchObject({ status: 'failed', error: { code: 'wait_timeout' } });
    expect(await requestsFor(bill)).toEqual([expect.objectContaining({ state: 'expired' })]);
    // A confirmation after the expiry changes nothing.
    const [expired] = await requestsFor(bill);
    await gateway.succeed(expired!.id as string);
    expect((await engine.api.request('GET', `/v1/payment-requests/${expired!.id}`)).body.state).toBe('expired');
  });

  it.each([
    ['holds every call open (each times out)', 'silent', 3],
    ['is a closed port (each call refused)', 'closed', 2],
  ])('expires the request with gateway_timeout when the gateway %s, after its own number of attempts, and makes one request', async (_, gatewayName, attempts) => {
    const eventType = `bill${randomUUID().slice(0, 6)}.due`;
    await engine.createTrigger({ name: `Down ${gatewayName}`, on: { types: [eventType] }, tasks: [{ id: 'pay', type: 'payment_request', gateway: gatewayName, amount: 300, unit: 'EUR', ownerId: 'cust-7', reference: '{{data.bill}}', timeoutSeconds: 600 }] });
    const bill = `silent-${randomUUID().slice(0, 8)}`;
    const startedAt = Date.now();
    const sent = await send({ bill }, eventType);
    const run = await engine.settledRun(sent.body.runs[0].workflowId);
    expect(Date.now() - startedAt).toBeLessThan(20_000);
    expect(run.status).toBe('failed');
    expect(run.tasks[0]).toMatchObject({ status: 'failed', error: { code: 'gateway_timeout', message: expect.stringContaining(`after ${attempts} attempts`) } });

    const requests = await requestsFor(bill);
    expect(requests).toEqual([expect.objectContaining({ state: 'expired', reason: 'gateway_timeout', workflowId: sent.body.runs[0].workflowId })]);
    const id = requests[0]!.id as string;
    expect((await engine.api.request('GET', `/v1/payment-requests/${id}`)).body).toMatchObject({ id, reference: bill, gateway: gatewayName, state: 'expired', reason: 'gateway_timeout', finishedAt: expect.any(String) });
    // Every call was the same request to the gateway, and none was accepted.
    const held = gateway.held.filter((request) => request.reference === bill);
    expect(held.map((request) => request.idempotencyKey)).toEqual(gatewayName === 'silent' ? Array(attempts).fill(id) : []);
    expect(gateway.requests.filter((request) => request.reference === bill)).toEqual([]);
    // A late confirmation changes nothing.
    await gateway.succeed(id);
    expect((await engine.api.request('GET', `/v1/payment-requests/${id}`)).body).toMatchObject({ state: 'expired', reason: 'gateway_timeout' });
    expect(await requestsFor(bill)).toHaveLength(1);
  });

  it('shows in a dry run the request it would make, asking the gateway nothing and storing nothing', async () => {
    const bill = `B-${randomUUID().slice(0, 8)}`;
    const submits = gateway.submits;
    const dry = await engine.api.request('POST', '/v1/triggers/dry-run', { event: { type, data: { bill, ownerId: 'cust-6', amount: 700 } } });
    expect(dry.status).toBe(200);
    const [matched] = dry.body.matched.filter((trigger: { name: string }) => trigger.name === 'Pay the bill');
    expect(matched.tasks[0]).toMatchObject({ id: 'pay', outcome: 'would_complete', paymentRequest: { gateway: 'card', ownerId: 'cust-6', reference: bill, amount: 700, unit: 'EUR', state: 'pending' } });
    expect(gateway.submits).toBe(submits);
    expect(await requestsFor(bill)).toEqual([]);
  });

  it('refuses a zero amount or an unknown gateway at save, and a negative amount at run time, creating nothing', async () => {
    const zero = await engine.api.request('POST', '/v1/triggers', { name: 'Zero', on: { types: ['x.y'] }, tasks: [{ id: 'pay', type: 'payment_request', gateway: 'card', amount: 0, unit: 'EUR', ownerId: 'o', reference: 'r' }] });
    expect(zero.status).toBe(422);
    expect(zero.body.errors).toEqual([expect.objectContaining({ path: 'tasks.0.amount' })]);

    const paypal = await engine.api.request('POST', '/v1/triggers', { name: 'PayPal', on: { types: ['x.y'] }, tasks: [{ id: 'pay', type: 'payment_request', gateway: 'paypal', amount: 5, unit: 'EUR', ownerId: 'o', reference: 'r' }] });
    expect(paypal.status).toBe(422);
    expect(paypal.body.errors).toEqual([expect.objectContaining({ path: 'tasks.0.gateway', message: expect.stringContaining('card') })]);

    const eventType = `bill${randomUUID().slice(0, 6)}.due`;
    await engine.createTrigger({ name: 'Odd', on: { types: [eventType] }, tasks: [{ id: 'pay', type: 'payment_request', gateway: 'card', amountFrom: 'data.amount', unit: 'EUR', ownerId: 'cust-5', reference: '{{data.bill}}' }] });
    const negative = await engine.settledRun((await send({ bill: 'n-1', amount: -5 }, eventType)).body.runs[0].workflowId);
    expect(negative.tasks[0]).toMatchObject({ status: 'failed', error: { code: 'amount_invalid' } });
    const zeroRun = await engine.settledRun((await send({ bill: 'n-2', amount: 0 }, eventType)).body.runs[0].workflowId);
    expect(zeroRun.tasks[0]).toMatchObject({ status: 'failed', error: { code: 'amount_invalid' } });
    expect(await requestsFor('n-1')).toEqual([]);
    expect(await requestsFor('n-2')).toEqual([]);
  });
});
