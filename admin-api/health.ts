import type { RouteTable } from './route-table';
import { z } from './zod';

/** A dependency the API needs; `check` rejects when it is unreachable. */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

/** No probe waits longer than this, so /readyz always answers promptly. */
const CHECK_TIMEOUT_MS = 3_000;

async function probe(check: ReadinessCheck): Promise<{ name: string; ok: boolean; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([check.check(), timeout]);
    return { name: check.name, ok: true };
  } catch (error) {
    return { name: check.name, ok: false, error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

const readinessSchema = z
  .object({
    status: z.enum(['ready', 'unavailable']),
    checks: z.record(z.string(), z.object({ ok: z.boolean(), error: z.string().optional() })),
  })
  .openapi('Readiness');

export function addHealthRoutes(routes: RouteTable, checks: ReadinessCheck[]): void {
  routes.add({
    method: 'get',
    path: '/healthz',
    tags: ['operations'],
    summary: 'The process is up',
    responses: { 200: { description: 'Up.', schema: z.object({ status: z.literal('ok') }) } },
    handler: async () => ({ status: 200, body: { status: 'ok' } }),
  });
  routes.add({
    method: 'get',
    path: '/readyz',
    tags: ['operations'],
    summary: 'The store and Temporal are reachable',
    responses: {
      200: { description: 'Every dependency answered.', schema: readinessSchema },
      503: { description: 'At least one dependency is down; `checks` names it.', schema: readinessSchema },
    },
    handler: async () => {
      const results = await Promise.all(checks.map(probe));
      const ready = results.every((r) => r.ok);
      const body = {
        status: ready ? 'ready' : 'unavailable',
        checks: Object.fromEntries(results.map((r) => [r.name, r.error ? { ok: r.ok, error: r.error } : { ok: r.ok }])),
      };
      return { status: ready ? 200 : 503, body };
    },
  });
}
