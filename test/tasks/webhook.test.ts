import { taskProblems, taskSchema } from '../../tasks/registry';
import { resolveBody, resolveUrl, webhookKind } from '../../tasks/webhook';
import type { RunContext, TaskSpec } from '../../workflows/types';

const context = {
  event: { id: 'evt_1', type: 'request.created', occurredAt: '2025-01-01T00:00:00Z', data: {} },
  data: { reservation: { id: 'r 1/2', price_int: 5000, user: { id: 'user_42' } }, base: 'https://billing.example.com/v1', tags: ['a', 'b'], nothing: null },
  tasks: { compute: { amount_cents: 6000 } },
  results: {},
  trigger: { id: 'trg_1', name: 'Hook', version: 1 },
} as unknown as RunContext;

const checks = { checkScript: () => null, checkScriptLimits: () => [], templates: { get: async () => null } as never, webhookAllowedHosts: [] };

function parsed(fields: Record<string, unknown>): TaskSpec {
  return taskSchema.parse({ id: 'hook', type: 'webhook', ...fields }) as TaskSpec;
}

describe('a webhook body', () => {
  it('keeps the JSON type of a whole {{path}} and fills {{path}} inside text as text', () => {
    const body = { amount: '{{tasks.compute.amount_cents}}', reservation: '{{data.reservation}}', note: 'credit {{tasks.compute.amount_cents}} for {{data.reservation.user.id}}', list: ['{{data.tags}}', 7, true, null], empty: '{{data.nothing}}' };
    expect(resolveBody(body, context)).toEqual({
      amount: 6000,
      reservation: { id: 'r 1/2', price_int: 5000, user: { id: 'user_42' } },
      note: 'credit 6000 for user_42',
      list: [['a', 'b'], 7, true, null],
      empty: null,
    });
  });

  it('fails with reference_missing naming the path when a reference finds nothing', () => {
    expect(() => resolveBody({ a: { b: '{{data.missing.field}}' } }, context)).toThrow(expect.objectContaining({ code: 'reference_missing', message: expect.stringContaining('body.a.b: nothing at "data.missing.field"') }));
  });
});

describe('a webhook URL', () => {
  it('percent-encodes references inside it, but inserts a reference that starts it as written', () => {
    expect(resolveUrl('https://hooks.example.com/reservations/{{data.reservation.id}}?user={{data.reservation.user.id}}', context)).toBe('https://hooks.example.com/reservations/r%201%2F2?user=user_42');
    expect(resolveUrl('{{data.base}}/credits', context)).toBe('https://billing.example.com/v1/credits');
  });

  it('must resolve to a string', () => {
    expect(() => resolveUrl('{{data.reservation.price_int}}', context)).toThrow(expect.objectContaining({ code: 'webhook_url_invalid' }));
  });
});

describe('saving a webhook task', () => {
  it('fills in POST and a 10 s timeout', () => {
    expect(parsed({ url: 'https://hooks.example.com/' })).toMatchObject({ method: 'POST', timeoutMs: 10_000 });
    expect(() => parsed({ url: 'https://hooks.example.com/', timeoutMs: 60_001 })).toThrow();
    expect(parsed({ url: 'https://hooks.example.com/', timeoutMs: 60_000 })).toMatchObject({ timeoutMs: 60_000 });
  });

  it('refuses a literal refused address, another scheme, a reserved header and a malformed reference, by path', async () => {
    const problems = await taskProblems([
      parsed({ url: 'http://169.254.169.254/latest/meta-data' }),
      parsed({ id: 'ftp', url: 'ftp://files.example.com/' }),
      parsed({ id: 'signed', url: 'https://hooks.example.com/', headers: { 'Creditflow-Signature': 'forged' } }),
      parsed({ id: 'broken', url: 'https://hooks.example.com/{{data.id', body: { a: ['{{ not a path }}'] } }),
    ], checks);
    expect(problems).toEqual([
      { path: 'tasks.0.url', message: expect.stringContaining('169.254.169.254 is refused') },
      { path: 'tasks.1.url', message: 'must use http: or https:, not ftp:' },
      { path: 'tasks.2.headers', message: 'header Creditflow-Signature is set by Creditflow and cannot be given' },
      { path: 'tasks.3.url', message: 'has a {{ without its closing }}' },
      { path: 'tasks.3.body.a.0', message: expect.stringContaining('{{ not a path }} is not a {{path}} reference') },
    ]);
  });

  it('accepts a templated URL, whose target is checked when it is sent, and a listed host', async () => {
    expect(await taskProblems([parsed({ url: '{{data.base}}/x' }), parsed({ id: 'b', url: 'https://{{data.host}}/x' })], checks)).toEqual([]);
    expect(await taskProblems([parsed({ url: 'http://127.0.0.1:8080/hook' })], { ...checks, webhookAllowedHosts: ['127.0.0.1'] })).toEqual([]);
  });
});

describe('a webhook summary', () => {
  it('names the method and the URL without its query', () => {
    expect(webhookKind.summary(parsed({ url: 'https://hooks.example.com/credits?token=secret' }) as never)).toBe('POST https://hooks.example.com/credits');
  });
});
