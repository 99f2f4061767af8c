import { createWebhookSender, WebhookError, type ResolvedAddress, type WebhookRequest } from '../../../engine/webhooks';
import { Receiver } from './receiver';

const receiver = new Receiver();

beforeAll(() => receiver.start());
afterAll(() => receiver.stop());
beforeEach(() => {
  receiver.received.length = 0;
  receiver.handler = (_request, response) => response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
});

function request(url: string, overrides: Partial<WebhookRequest> = {}): WebhookRequest {
  return { url, method: 'POST', body: { hello: 'world' }, timeoutMs: 2_000, idempotencyKey: 'trg_1:evt_1:hook', ...overrides };
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

/** A resolver that answers each call with the next list of addresses (the last one repeats) and counts the calls. */
function scriptedResolver(...answers: string[][]) {
  const calls: string[] = [];
  const resolve = async (hostname: string): Promise<ResolvedAddress[]> => {
    calls.push(hostname);
    const answer = answers[Math.min(calls.length, answers.length) - 1] ?? [];
    return answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return { resolve, calls };
}

describe('the webhook address guard', () => {
  it('refuses the local receiver at 127.0.0.1 unless its host is allowed', async () => {
    const error = await failureOf(createWebhookSender({ allowedHosts: [] }).send(request(receiver.url())));
    expect(error).toMatchObject({ code: 'webhook_address_refused', retryable: false, host: '127.0.0.1', address: '127.0.0.1' });
    expect(error.message).toContain('loopback');
    expect(receiver.received).toHaveLength(0);

    await expect(createWebhookSender({ allowedHosts: [receiver.hostEntry] }).send(request(receiver.url()))).resolves.toMatchObject({ status: 200 });
    expect(receiver.received).toHaveLength(1);
  });

  it('allows every port of a host listed without one, and only the listed port of a host:port', async () => {
    await expect(createWebhookSender({ allowedHosts: ['127.0.0.1'] }).send(request(receiver.url()))).resolves.toMatchObject({ status: 200 });
    const otherPort = receiver.port === 65_535 ? 65_534 : receiver.port + 1;
    const error = await failureOf(createWebhookSender({ allowedHosts: [`127.0.0.1:${otherPort}`] }).send(request(receiver.url())));
    expect(error.code).toBe('webhook_address_refused');
  });

  it('matches an allowed host name case-insensitively, however the URL spells it', async () => {
    const { resolve } = scriptedResolver(['127.0.0.1']);
    const sender = createWebhookSender({ allowedHosts: [`Hooks.Internal:${receiver.port}`], resolve });
    await expect(sender.send(request(`http://HOOKS.internal:${receiver.port}/hook`))).resolves.toMatchObject({ status: 200 });
    expect(receiver.received[0]?.headers.host).toBe(`hooks.internal:${receiver.port}`);
  });

  it('refuses a host name when any one of its addresses is private, naming the host and that address', async () => {
    const { resolve, calls } = scriptedResolver(['93.184.216.34', '10.0.0.5', '2606:2800:220:1::1']);
    const error = await failureOf(createWebhookSender({ allowedHosts: [], resolve }).send(request('https://hooks.example.com/in')));
    expect(error).toMatchObject({ code: 'webhook_address_refused', host: 'hooks.example.com', address: '10.0.0.5' });
    expect(error.message).toContain('hooks.example.com resolves to 10.0.0.5');
    expect(calls).toEqual(['hooks.example.com']);
  });

  it.each([
    ['an IPv4-mapped private address', '::ffff:10.0.0.1'],
    ['the cloud metadata address', '169.254.169.254'],
    ['IPv6 loopback', '::1'],
    ['an IPv4-mapped loopback address', '::ffff:127.0.0.1'],
    ['the unspecified address', '0.0.0.0'],
    ['a CGNAT address', '100.64.0.1'],
    ['an IPv6 unique-local address', 'fd12:3456::1'],
    ['an IPv6 link-local address with a zone', 'fe80::1%eth0'],
  ])('refuses a host name that resolves to %s', async (_what, address) => {
    const { resolve } = scriptedResolver([address]);
    const error = await failureOf(createWebhookSender({ allowedHosts: [], resolve }).send(request('https://hooks.example.com/in')));
    expect(error).toMatchObject({ code: 'webhook_address_refused', address });
  });

  it.each([
    ['http://[::ffff:10.0.0.1]/hook', '::ffff:a00:1'],
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254'],
    ['http://[::1]:8080/', '::1'],
    ['http://0x7f.1/', '127.0.0.1'],
    ['http://2130706433/', '127.0.0.1'],
  ])('refuses the literal address in %s without resolving anything', async (url, address) => {
    const { resolve, calls } = scriptedResolver(['93.184.216.34']);
    const error = await failureOf(createWebhookSender({ allowedHosts: [], resolve }).send(request(url)));
    expect(error).toMatchObject({ code: 'webhook_address_refused', address });
    expect(calls).toEqual([]);
  });

  it('refuses localhost through the system resolver', async () => {
    const error = await failureOf(createWebhookSender({ allowedHosts: [] }).send(request(`http://localhost:${receiver.port}/hook`)));
    expect(error.code).toBe('webhook_address_refused');
    expect(receiver.received).toHaveLength(0);
  });

  it('connects to the address it checked, not to what the name resolves to a moment later', async () => {
    // The first answer is the one checked and used; a second lookup would
    // say 192.0.2.1, where nothing listens, and the system resolver does not
    // know the name at all. The receiver seeing the call proves the pin.
    const { resolve, calls } = scriptedResolver(['127.0.0.1'], ['192.0.2.1']);
    const sender = createWebhookSender({ allowedHosts: [`hooks.internal:${receiver.port}`], resolve });
    await expect(sender.send(request(`http://hooks.internal:${receiver.port}/hook`))).resolves.toEqual({ status: 200, body: { ok: true }, truncated: false });
    expect(calls).toEqual(['hooks.internal']);
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]?.headers.host).toBe(`hooks.internal:${receiver.port}`);
  });

  it('cannot be rebound: a public answer at check time keeps the call away from a local address answered later', async () => {
    const { resolve, calls } = scriptedResolver(['192.0.2.1'], ['127.0.0.1']);
    const sender = createWebhookSender({ allowedHosts: [], resolve });
    const error = await failureOf(sender.send(request(`http://rebind.example.com:${receiver.port}/hook`, { timeoutMs: 500 })));
    expect(error).toMatchObject({ code: 'webhook_unavailable', retryable: true });
    expect(calls).toEqual(['rebind.example.com']);
    expect(receiver.received).toHaveLength(0);
  });

  it('retries a host that resolves to nothing or fails to resolve', async () => {
    const empty = createWebhookSender({ allowedHosts: [], resolve: async () => [] });
    expect(await failureOf(empty.send(request('https://hooks.example.com/')))).toMatchObject({ code: 'webhook_unavailable', reason: 'network' });
    const failing = createWebhookSender({
      allowedHosts: [],
      resolve: async () => {
        throw Object.assign(new Error('getaddrinfo ENOTFOUND hooks.example.com'), { code: 'ENOTFOUND' });
      },
    });
    const error = await failureOf(failing.send(request('https://hooks.example.com/')));
    expect(error).toMatchObject({ code: 'webhook_unavailable', retryable: true, reason: 'network' });
    expect(error.message).toContain('ENOTFOUND');
  });

  it('refuses an unusable allowed-host entry when the sender is built', () => {
    expect(() => createWebhookSender({ allowedHosts: ['http://hooks.internal'] })).toThrow('not a host or host:port');
  });
});
