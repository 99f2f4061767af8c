import { createHmac } from 'node:crypto';
import {
  createWebhookSender, WEBHOOK_MAX_IDEMPOTENCY_KEY_LENGTH, WEBHOOK_MAX_REQUEST_BYTES, WEBHOOK_MAX_RESPONSE_BYTES, WEBHOOK_MAX_RESPONSE_DEPTH, WEBHOOK_MAX_TIMEOUT_MS,
  WebhookError, type WebhookRequest, type WebhookSender,
} from '../../../engine/webhooks';
import { Receiver } from './receiver';

const secret = 'whs_test-webhook-secret';
const receiver = new Receiver();
let sender: WebhookSender;

beforeAll(async () => {
  await receiver.start();
  sender = createWebhookSender({ allowedHosts: [receiver.hostEntry] });
});
afterAll(() => receiver.stop());
beforeEach(() => {
  receiver.received.length = 0;
});

function request(overrides: Partial<WebhookRequest> = {}): WebhookRequest {
  return { url: receiver.url(), method: 'POST', body: { amount_cents: 6000, note: 'café' }, timeoutMs: 5_000, idempotencyKey: 'trg_1:evt_1:notify', ...overrides };
}

async function failureOf(call: Promise<unknown>): Promise<WebhookError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof WebhookError) return error;
    throw error;
  }
  throw new Error('the call succeeded');
}

function answer(status: number, headers: Record<string, string>, body: string | Buffer = ''): void {
  receiver.handler = (_request, response) => response.writeHead(status, headers).end(body);
}

describe('the webhook sender on the wire', () => {
  it('signs the exact raw body it sends, so the receiver can verify it with the secret', async () => {
    answer(204, {});
    const before = Math.floor(Date.now() / 1000);
    await sender.send(request({ signingSecret: secret }));
    const [seen] = receiver.received;
    const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(seen?.headers['creditflow-signature']));
    expect(match).not.toBeNull();
    const [, t = '', v1] = match ?? [];
    expect(Number(t)).toBeGreaterThanOrEqual(before);
    expect(v1).toBe(createHmac('sha256', secret).update(`${t}.`).update(seen!.rawBody).digest('hex'));
    expect(JSON.parse(seen!.rawBody.toString('utf8'))).toEqual({ amount_cents: 6000, note: 'café' });
  });

  it('signs an empty body as nothing after the dot, and sends no signature without a secret', async () => {
    answer(204, {});
    await sender.send(request({ method: 'DELETE', body: undefined, signingSecret: secret }));
    await sender.send(request());
    const [signed, unsigned] = receiver.received;
    const [, t] = /^t=(\d+),/.exec(String(signed?.headers['creditflow-signature'])) ?? [];
    expect(signed?.headers['creditflow-signature']).toBe(`t=${t},v1=${createHmac('sha256', secret).update(`${t}.`).digest('hex')}`);
    expect(signed?.rawBody.length).toBe(0);
    expect(signed?.headers['content-type']).toBeUndefined();
    expect(unsigned?.headers['creditflow-signature']).toBeUndefined();
  });

  it('sends the method, path, Idempotency-Key, JSON content type, User-Agent and custom headers', async () => {
    answer(200, {});
    await sender.send(request({ method: 'PUT', url: receiver.url('/hooks/top-up?source=cf'), headers: { 'X-Tenant': 'acme', Authorization: 'Bearer abc' } }));
    const [seen] = receiver.received;
    expect(seen).toMatchObject({ method: 'PUT', path: '/hooks/top-up?source=cf' });
    expect(seen?.headers).toMatchObject({
      'idempotency-key': 'trg_1:evt_1:notify',
      'content-type': 'application/json',
      'user-agent': 'Creditflow-Webhook/1',
      'x-tenant': 'acme',
      authorization: 'Bearer abc',
      host: receiver.hostEntry,
      'content-length': String(seen?.rawBody.length),
    });
  });

  it('lets a custom Content-Type replace the default instead of sending both', async () => {
    answer(200, {});
    await sender.send(request({ headers: { 'Content-Type': 'application/vnd.api+json' } }));
    expect(receiver.received[0]?.headers['content-type']).toBe('application/vnd.api+json');
  });

  it('resolves a 2xx with the parsed body when it is JSON, and with text otherwise', async () => {
    answer(201, { 'content-type': 'application/json; charset=utf-8' }, '{"id":"pay_1","ok":true}');
    await expect(sender.send(request())).resolves.toEqual({ status: 201, body: { id: 'pay_1', ok: true }, truncated: false });
    answer(200, { 'content-type': 'application/problem+json' }, '{"x":1}');
    await expect(sender.send(request())).resolves.toEqual({ status: 200, body: { x: 1 }, truncated: false });
    answer(200, { 'content-type': 'text/plain' }, '{"looks":"like json"}');
    await expect(sender.send(request())).resolves.toEqual({ status: 200, body: '{"looks":"like json"}', truncated: false });
    answer(200, { 'content-type': 'application/json' }, 'not json');
    await expect(sender.send(request())).resolves.toEqual({ status: 200, body: 'not json', truncated: false });
  });

  it(`parses JSON nested ${WEBHOOK_MAX_RESPONSE_DEPTH} levels deep and returns one level deeper as text`, async () => {
    const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
    answer(200, { 'content-type': 'application/json' }, nested(WEBHOOK_MAX_RESPONSE_DEPTH));
    expect((await sender.send(request())).body).toEqual(JSON.parse(nested(WEBHOOK_MAX_RESPONSE_DEPTH)));
    answer(200, { 'content-type': 'application/json' }, nested(WEBHOOK_MAX_RESPONSE_DEPTH + 1));
    expect((await sender.send(request())).body).toBe(nested(WEBHOOK_MAX_RESPONSE_DEPTH + 1));
  });

  it('reads a body of exactly 64 KB whole, and cuts one byte more to 64 KB as text', async () => {
    const exact = `"${'a'.repeat(WEBHOOK_MAX_RESPONSE_BYTES - 2)}"`;
    answer(200, { 'content-type': 'application/json' }, exact);
    await expect(sender.send(request())).resolves.toEqual({ status: 200, body: 'a'.repeat(WEBHOOK_MAX_RESPONSE_BYTES - 2), truncated: false });

    const oneMore = `"${'a'.repeat(WEBHOOK_MAX_RESPONSE_BYTES - 1)}"`;
    answer(200, { 'content-type': 'application/json' }, oneMore);
    await expect(sender.send(request())).resolves.toEqual({ status: 200, body: oneMore.slice(0, WEBHOOK_MAX_RESPONSE_BYTES), truncated: true });
  });

  it('stops reading a body that never ends once it has 64 KB, closing the connection', async () => {
    let closed: Promise<void> = Promise.resolve();
    receiver.handler = (_request, response) => {
      closed = new Promise((resolve) => response.once('close', () => resolve()));
      response.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(16 * 1024, 'z');
      const pump = () => {
        while (response.write(chunk));
        response.once('drain', pump);
      };
      response.on('error', () => undefined);
      pump();
    };
    const result = await sender.send(request({ timeoutMs: 10_000 }));
    expect(result.truncated).toBe(true);
    expect(result.body).toBe('z'.repeat(WEBHOOK_MAX_RESPONSE_BYTES));
    await closed;
  });

  it.each([429, 503])('retries a %i, carrying the status and Retry-After', async (status) => {
    answer(status, { 'retry-after': '30' }, 'busy');
    const error = await failureOf(sender.send(request()));
    expect(error).toMatchObject({ code: 'webhook_unavailable', retryable: true, status, retryAfterSeconds: 30, reason: 'status' });
  });

  it('reads Retry-After as an HTTP date too, and leaves it out when absent', async () => {
    answer(503, { 'retry-after': new Date(Date.now() + 120_000).toUTCString() });
    const dated = await failureOf(sender.send(request()));
    expect(dated.retryAfterSeconds).toBeGreaterThanOrEqual(118);
    expect(dated.retryAfterSeconds).toBeLessThanOrEqual(121);
    answer(500, {});
    const bare = await failureOf(sender.send(request()));
    expect(bare).toMatchObject({ code: 'webhook_unavailable', retryable: true, status: 500 });
    expect(bare.retryAfterSeconds).toBeUndefined();
  });

  it.each([
    [400, 'application/json', '{"error":"amount_missing"}', { error: 'amount_missing' }],
    [404, 'text/plain', 'no such hook', 'no such hook'],
  ])('fails a %i at once, with the body it answered', async (status, type, text, body) => {
    answer(status, { 'content-type': type }, text);
    const error = await failureOf(sender.send(request()));
    expect(error).toMatchObject({ code: 'webhook_rejected', retryable: false, status, body, truncated: false });
  });

  it('refuses a redirect without following it, naming where it pointed', async () => {
    answer(302, { location: 'http://169.254.169.254/latest/meta-data/' });
    const error = await failureOf(sender.send(request()));
    expect(error).toMatchObject({ code: 'webhook_redirect_refused', retryable: false, status: 302, location: 'http://169.254.169.254/latest/meta-data/' });
    expect(error.message).toContain('http://169.254.169.254/latest/meta-data/');
    expect(receiver.received).toHaveLength(1);
  });

  it('gives up when no answer comes in time, as a retryable timeout', async () => {
    receiver.handler = () => undefined;
    const error = await failureOf(sender.send(request({ timeoutMs: 200 })));
    expect(error).toMatchObject({ code: 'webhook_unavailable', retryable: true, reason: 'timeout' });
    expect(error.status).toBeUndefined();
  });

  it('times out a body that stalls after the status line', async () => {
    receiver.handler = (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"partial":');
    };
    const error = await failureOf(sender.send(request({ timeoutMs: 300 })));
    expect(error).toMatchObject({ code: 'webhook_unavailable', reason: 'timeout' });
  });

  it('retries a connection that is refused', async () => {
    const closed = new Receiver();
    await closed.start();
    const url = closed.url();
    await closed.stop();
    const error = await failureOf(createWebhookSender({ allowedHosts: ['127.0.0.1'] }).send(request({ url })));
    expect(error).toMatchObject({ code: 'webhook_unavailable', retryable: true, reason: 'network' });
  });

  it('times out a resolver that never answers', async () => {
    const stuck = createWebhookSender({ allowedHosts: [], resolve: () => new Promise(() => undefined) });
    const error = await failureOf(stuck.send(request({ url: 'https://hooks.example.com/x', timeoutMs: 100 })));
    expect(error).toMatchObject({ code: 'webhook_unavailable', reason: 'timeout' });
  });
});

describe('the webhook sender refusing a request before sending', () => {
  it(`sends a body of ${WEBHOOK_MAX_REQUEST_BYTES} bytes and refuses one byte more`, async () => {
    answer(204, {});
    const fits = 'b'.repeat(WEBHOOK_MAX_REQUEST_BYTES - 2);
    await sender.send(request({ body: fits }));
    expect(receiver.received[0]?.rawBody.length).toBe(WEBHOOK_MAX_REQUEST_BYTES);
    const error = await failureOf(sender.send(request({ body: `${fits}b` })));
    expect(error).toMatchObject({ code: 'webhook_request_invalid', retryable: false });
    expect(receiver.received).toHaveLength(1);
  });

  it(`accepts timeouts from 1 to ${WEBHOOK_MAX_TIMEOUT_MS} ms only`, async () => {
    answer(204, {});
    await expect(sender.send(request({ timeoutMs: WEBHOOK_MAX_TIMEOUT_MS }))).resolves.toMatchObject({ status: 204 });
    for (const timeoutMs of [0, WEBHOOK_MAX_TIMEOUT_MS + 1, 1.5]) {
      expect(await failureOf(sender.send(request({ timeoutMs })))).toMatchObject({ code: 'webhook_request_invalid' });
    }
  });

  it(`accepts an idempotency key of ${WEBHOOK_MAX_IDEMPOTENCY_KEY_LENGTH} characters and refuses an empty one or one more`, async () => {
    answer(204, {});
    await sender.send(request({ idempotencyKey: 'k'.repeat(WEBHOOK_MAX_IDEMPOTENCY_KEY_LENGTH) }));
    expect(receiver.received[0]?.headers['idempotency-key']).toBe('k'.repeat(WEBHOOK_MAX_IDEMPOTENCY_KEY_LENGTH));
    for (const idempotencyKey of ['', 'k'.repeat(WEBHOOK_MAX_IDEMPOTENCY_KEY_LENGTH + 1)]) {
      expect(await failureOf(sender.send(request({ idempotencyKey })))).toMatchObject({ code: 'webhook_request_invalid' });
    }
  });

  it('percent-encodes what a header cannot carry in an idempotency key, the same way every time', async () => {
    answer(204, {});
    await sender.send(request({ idempotencyKey: 'trg_1:évt 1\r\nX-Injected: 1%:notify' }));
    await sender.send(request({ idempotencyKey: 'trg_1:évt 1\r\nX-Injected: 1%:notify' }));
    const [first, second] = receiver.received;
    expect(first?.headers['idempotency-key']).toBe('trg_1:%C3%A9vt%201%0D%0AX-Injected:%201%25:notify');
    expect(second?.headers['idempotency-key']).toBe(first?.headers['idempotency-key']);
    expect(first?.headers['x-injected']).toBeUndefined();
  });

  it('refuses a body that is not JSON, and reserved or malformed headers', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(await failureOf(sender.send(request({ body: cyclic })))).toMatchObject({ code: 'webhook_request_invalid' });
    expect(await failureOf(sender.send(request({ body: 10n })))).toMatchObject({ code: 'webhook_request_invalid' });
    expect(await failureOf(sender.send(request({ headers: { 'Idempotency-Key': 'mine' } })))).toMatchObject({ code: 'webhook_headers_invalid' });
    expect(await failureOf(sender.send(request({ headers: { 'X-A': 'x\r\nHost: evil' } })))).toMatchObject({ code: 'webhook_headers_invalid' });
    expect(await failureOf(sender.send(request({ url: 'ftp://127.0.0.1/x' })))).toMatchObject({ code: 'webhook_url_invalid', retryable: false });
    expect(receiver.received).toHaveLength(0);
  });
});
