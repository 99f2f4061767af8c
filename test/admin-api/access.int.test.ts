import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { buildOpenApiDocument } from '../../admin-api/openapi';
import { signatureHeaderValue } from '../../admin-api/signature';
import { startTestApi, type TestApi } from '../support/api';
import { openTestStore } from '../support/store';
import { temporalAddress } from '../support/temporal';

let store: Awaited<ReturnType<typeof openTestStore>>;
let connection: Connection;
let api: TestApi;
/** A second replica on the same store, with a tight ingestion limit. */
let replica: TestApi;

const INGESTION_LIMIT = 3;
const SCRIPT_TEST_LIMIT = 2;

beforeAll(async () => {
  store = await openTestStore('access_api');
  connection = await Connection.connect({ address: temporalAddress() });
  const deps = { store: store.connection, temporal: new Client({ connection }), taskQueue: `test-${randomUUID()}` };
  api = await startTestApi(deps);
  replica = await startTestApi({ ...deps, env: { RATE_LIMIT_EVENTS_PER_MINUTE: String(INGESTION_LIMIT), RATE_LIMIT_SCRIPT_TESTS_PER_MINUTE: String(SCRIPT_TEST_LIMIT) } });
});

afterAll(async () => {
  await replica?.close();
  await api?.close();
  await connection?.close();
  await store?.close();
});

async function createKey(scopes: string[], options: { signing?: boolean; name?: string } = {}) {
  const response = await api.request('POST', '/v1/api-keys', { name: options.name ?? `key for ${scopes.join(' ')}`, scopes, ...(options.signing ? { signing: true } : {}) });
  expect(response.status).toBe(201);
  return response.body as { id: string; secret: string; signingSecret?: string; prefix: string };
}

const event = (id = `evt_${randomUUID()}`) => ({ id, type: 'request.created', data: { reservation: { id: 'res_1' } } });

function expectProblem(response: { status: number; headers: Headers; body: { code?: string } }, status: number, code: string) {
  expect({ status: response.status, code: response.body?.code }).toEqual({ status, code });
  expect(response.headers.get('content-type')).toContain('application/problem+json');
}

describe('API keys', () => {
  it('returns the secret once, at creation, and never through GET', async () => {
    const created = await createKey(['events:write'], { signing: true });
    expect(created.secret.startsWith(`${created.prefix}_`)).toBe(true);
    expect(created.signingSecret).toMatch(/^cfs_/);

    const one = await api.request('GET', `/v1/api-keys/${created.id}`);
    const list = await api.request('GET', '/v1/api-keys?limit=200');
    expect(one.body).toMatchObject({ id: created.id, scopes: ['events:write'], signing: true, revokedAt: null });
    for (const text of [JSON.stringify(one.body), JSON.stringify(list.body)]) {
      expect(text).not.toContain(created.secret);
      expect(text).not.toContain(created.signingSecret);
      expect(text).not.toMatch(/secret|hash|sealed/i);
    }
  });

  it('stores neither secret in the clear', async () => {
    const created = await createKey(['accounts:read'], { signing: true });
    const stored = JSON.stringify(await store.connection.collection('api_keys').findOne({ _id: created.id as never }));
    expect(stored).not.toContain(created.secret);
    expect(stored).not.toContain(created.secret.slice(-43));
    expect(stored).not.toContain(created.signingSecret!.slice(4));
  });

  it('refuses an empty, unknown or repeated scope, naming the path', async () => {
    for (const scopes of [[], ['events:read'], ['admin', 'admin']]) {
      const response = await api.request('POST', '/v1/api-keys', { name: 'bad', scopes });
      expectProblem(response, 422, 'validation_failed');
      expect(response.body.errors[0].path).toMatch(/^scopes/);
    }
  });

  it('lists newest first, page by page with a cursor', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await createKey(['accounts:read'], { name: `page ${i}` })).id);
    const first = await api.request('GET', '/v1/api-keys?limit=2');
    expect(first.body.items.map((k: { id: string }) => k.id)).toEqual([ids[2], ids[1]]);
    const second = await api.request('GET', `/v1/api-keys?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.items[0].id).toBe(ids[0]);
  });

  it('answers 404 for an unknown key id', async () => {
    expectProblem(await api.request('GET', '/v1/api-keys/key_0000000000000000'), 404, 'api_key_not_found');
    expectProblem(await api.request('DELETE', '/v1/api-keys/key_0000000000000000'), 404, 'api_key_not_found');
  });

  it('records when a key was last used', async () => {
    const created = await createKey(['events:write']);
    expect((await api.request('POST', '/v1/events', event(), { key: created.secret })).status).toBe(202);
    let lastUsedAt = null;
    for (let attempt = 0; attempt < 40 && !lastUsedAt; attempt++) {
      lastUsedAt = (await api.request('GET', `/v1/api-keys/${created.id}`)).body.lastUsedAt;
      if (!lastUsedAt) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(lastUsedAt).not.toBeNull();
  });

  it('refuses a revoked key on its very next request, on every replica', async () => {
    const created = await createKey(['events:write']);
    expect((await replica.request('POST', '/v1/events', event(), { key: created.secret })).status).toBe(202);

    const revoked = await api.request('DELETE', `/v1/api-keys/${created.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).not.toBeNull();

    expectProblem(await replica.request('POST', '/v1/events', event(), { key: created.secret }), 401, 'api_key_revoked');
    expectProblem(await api.request('POST', '/v1/events', event(), { key: created.secret }), 401, 'api_key_revoked');
    expect((await api.request('DELETE', `/v1/api-keys/${created.id}`)).body.revokedAt).toBe(revoked.body.revokedAt);
  });

  it('refuses a missing key, an unknown key, and a known id with the wrong secret', async () => {
    const created = await createKey(['events:write']);
    expectProblem(await api.request('POST', '/v1/events', event(), { key: null }), 401, 'unauthorized');
    expectProblem(await api.request('POST', '/v1/events', event(), { key: 'cfk_not-a-key' }), 401, 'unauthorized');
    const forged = `${created.prefix}_${'A'.repeat(43)}`;
    expectProblem(await api.request('POST', '/v1/events', event(), { key: forged }), 401, 'unauthorized');
  });
});

describe('scopes', () => {
  it('lets events:write send events and nothing else', async () => {
    const { secret } = await createKey(['events:write']);
    expect((await api.request('POST', '/v1/events', event(), { key: secret })).status).toBe(202);
    expectProblem(await api.request('GET', '/v1/triggers', undefined, { key: secret }), 403, 'scope_missing');
    expectProblem(await api.request('GET', '/v1/events', undefined, { key: secret }), 403, 'scope_missing');
    expectProblem(await api.request('POST', '/v1/api-keys', { name: 'escalate', scopes: ['admin'] }, { key: secret }), 403, 'scope_missing');
  });

  it('refuses events to accounts:read and accounts:write keys', async () => {
    for (const scope of ['accounts:read', 'accounts:write']) {
      const { secret } = await createKey([scope]);
      expectProblem(await api.request('POST', '/v1/events', event(), { key: secret }), 403, 'scope_missing');
    }
  });

  it('lets a created admin key manage keys', async () => {
    const { secret } = await createKey(['admin']);
    expect((await api.request('POST', '/v1/api-keys', { name: 'made by a key', scopes: ['accounts:read'] }, { key: secret })).body.createdBy).toMatch(/^key_/);
  });

  it('are enforced on every documented /v1 route: each scope gets past auth exactly where it is required', async () => {
    const keys: Record<string, string> = {};
    for (const scope of ['events:write', 'accounts:read', 'accounts:write']) keys[scope] = (await createKey([scope])).secret;
    const document = buildOpenApiDocument(api.api.routes);
    let checked = 0;
    for (const [path, item] of Object.entries(document.paths ?? {})) {
      for (const [method, operation] of Object.entries(item as Record<string, { 'x-required-scope'?: string }>)) {
        const required = operation['x-required-scope'];
        if (!required) continue;
        const url = path.replace(/\{[^}]+\}/g, '1');
        const body = method === 'get' || method === 'delete' ? undefined : {};
        for (const [scope, secret] of Object.entries(keys)) {
          const response = await api.request(method.toUpperCase(), url, body, { key: secret });
          const outcome = `${method} ${path} with ${scope}: ${response.status}`;
          if (scope === required) expect(outcome).not.toMatch(/: 40[13]$/);
          else expect(outcome).toMatch(/: 403$/);
        }
        const asAdmin = await api.request(method.toUpperCase(), url, body);
        expect(`${method} ${path} with admin: ${asAdmin.status}`).not.toMatch(/: 40[13]$/);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(10);
  });
});

describe('signed requests', () => {
  let signer: { secret: string; signingSecret: string };
  const now = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    const created = await createKey(['events:write'], { signing: true });
    signer = { secret: created.secret, signingSecret: created.signingSecret! };
  });

  function sendSigned(raw: string, signature: string | undefined) {
    return api.request('POST', '/v1/events', undefined, { key: signer.secret, raw, headers: signature === undefined ? {} : { 'creditflow-signature': signature } });
  }

  it('accepts a body signed byte for byte, whatever its formatting', async () => {
    const raw = `{ "id":"evt_${randomUUID()}",\n  "type": "request.created", "data": {"note": "caf\u00e9 \u{1F600}"} }`;
    expect((await sendSigned(raw, signatureHeaderValue(signer.signingSecret, raw))).status).toBe(202);
  });

  it('refuses a missing or malformed signature', async () => {
    const raw = JSON.stringify(event());
    expectProblem(await sendSigned(raw, undefined), 401, 'signature_missing');
    expectProblem(await sendSigned(raw, 'sha256=abc'), 401, 'signature_malformed');
    expectProblem(await sendSigned(raw, `t=${now()},v1=xyz`), 401, 'signature_malformed');
  });

  it('refuses a tampered body and a signature made with another secret', async () => {
    const raw = JSON.stringify(event());
    const tampered = raw.replace('res_1', 'res_2');
    expectProblem(await sendSigned(tampered, signatureHeaderValue(signer.signingSecret, raw)), 401, 'signature_mismatch');
    expectProblem(await sendSigned(raw, signatureHeaderValue('cfs_someone-elses-secret', raw)), 401, 'signature_mismatch');
  });

  it('accepts a timestamp up to five minutes old and refuses one older, or as far in the future', async () => {
    const raw = () => JSON.stringify(event());
    const at = (offsetSeconds: number) => (body: string) => signatureHeaderValue(signer.signingSecret, body, now() + offsetSeconds);
    const body1 = raw();
    expect((await sendSigned(body1, at(-290)(body1))).status).toBe(202);
    const body2 = raw();
    expectProblem(await sendSigned(body2, at(-301)(body2)), 401, 'signature_expired');
    const body3 = raw();
    expectProblem(await sendSigned(body3, at(301)(body3)), 401, 'signature_timestamp_in_future');
  });

  it('ignores a signature header from a key without a signing secret', async () => {
    const { secret } = await createKey(['events:write']);
    const raw = JSON.stringify(event());
    expect((await api.request('POST', '/v1/events', undefined, { key: secret, raw, headers: { 'creditflow-signature': 't=1,v1=00' } })).status).toBe(202);
  });
});

describe('rate limiting', () => {
  it('answers 429 with Retry-After past the per-key limit, and leaves other keys alone', async () => {
    const busy = await createKey(['events:write']);
    const other = await createKey(['events:write']);
    for (let i = 0; i < INGESTION_LIMIT; i++) {
      expect((await replica.request('POST', '/v1/events', event(), { key: busy.secret })).status).toBe(202);
    }
    const refused = await replica.request('POST', '/v1/events', event(), { key: busy.secret });
    expectProblem(refused, 429, 'rate_limited');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);

    expect((await replica.request('POST', '/v1/events', event(), { key: other.secret })).status).toBe(202);
    expect((await replica.request('GET', `/v1/api-keys/${busy.id}`)).status).toBe(200);
  });

  it('limits script test-runs per key on their own budget', async () => {
    const author = await createKey(['admin']);
    const test = (key?: string) => replica.request('POST', '/v1/scripts/test', { code: 'return 1', input: { event: {} } }, key ? { key } : {});
    for (let i = 0; i < SCRIPT_TEST_LIMIT; i++) expect((await test(author.secret)).status).toBe(200);
    const refused = await test(author.secret);
    expectProblem(refused, 429, 'rate_limited');
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await test()).status).toBe(200);
  });
});
