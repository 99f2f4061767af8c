import { checkLimits, type Sandbox } from '../../scripts-sandbox';
import { DomainError } from '../../engine/errors';
import type { RouteModule } from '../app';
import { z } from '../zod';

const scriptResultSchema = z
  .object({
    ok: z.boolean(),
    output: z.unknown().optional(),
    error: z.object({ code: z.string(), message: z.string(), line: z.number().int().optional(), column: z.number().int().optional(), path: z.string().optional() }).optional(),
    logs: z.array(z.string()),
    durationMs: z.number(),
  })
  .openapi('ScriptTestResult');

/** Script test-runs: the real sandbox on sample input, with no side effects. */
export function scriptRoutes(sandbox: Pick<Sandbox, 'run'>, maximums: { maxTimeoutMs: number; maxMemoryMb: number }): RouteModule {
  return (routes) => {
    routes.add({
      method: 'post', path: '/v1/scripts/test', scope: 'admin', rateLimit: 'script_test', tags: ['scripts'],
      summary: 'Run a script against sample input',
      description: 'Runs the code in the same sandbox and limits as a script task and returns its output, logs and duration, or its error with the line and column in your code. Touches no account, mailbox or run.',
      body: z.strictObject({
        code: z.string().min(1),
        input: z.strictObject({
          event: z.record(z.string(), z.unknown()),
          data: z.unknown().optional(),
          reservation: z.unknown().optional(),
          tasks: z.record(z.string(), z.unknown()).optional(),
          trigger: z.object({ id: z.string(), name: z.string(), version: z.number().int() }).optional(),
        }),
        limits: z.strictObject({ timeoutMs: z.number().int().min(1).optional(), memoryMb: z.number().int().min(1).optional() }).optional(),
      }),
      responses: { 200: { description: 'The result; `ok: false` carries the script error.', schema: scriptResultSchema } },
      handler: async ({ body }) => {
        const problems = checkLimits(body.limits ?? {}, maximums);
        if (problems.length > 0) throw new DomainError('script_limits_invalid', 'invalid', 'The requested limits exceed the server maximums.', problems.map((p) => ({ path: `limits.${p.path}`, message: p.message })));
        const result = await sandbox.run({ code: body.code, input: body.input, ...(body.limits ? { limits: body.limits } : {}) });
        return { status: 200, body: result };
      },
    });
  };
}
