import { checkLimits, SandboxBusyError, SandboxStartError, SandboxStoppedError, type Sandbox } from '../../scripts-sandbox';
import { DomainError } from '../../engine/errors';
import type { RouteModule } from '../app';
import { problem } from '../problem';
import { ConcurrencyLimitedError, PerKeyConcurrency } from '../rate-limit';
import { z } from '../zod';

const scriptResultSchema = z
  .object({
    ok: z.boolean(),
    output: z.unknown().optional(),
    error: z.object({ code: z.string(), message: z.string(), line: z.number().int().optional(), column: z.number().int().optional(), path: z.string().optional() }).optional(),
    logs: z.array(z.string()),
    durationMs: z.number().describe('The script\'s own run time in the sandbox, in ms: the span its timeoutMs applies to.'),
    queueMs: z.number().describe('Time before the script started, in ms: waiting for a free sandbox process, and a cold process booting. Not counted against timeoutMs.'),
  })
  .openapi('ScriptTestResult');

/**
 * Test-runs one API key may have in flight at once. With the default two
 * sandbox processes, one admin's spinning scripts then wait for each other
 * instead of filling the sandbox queue ahead of everyone else's.
 */
export const SCRIPT_TESTS_CONCURRENT_PER_KEY = 2;

/** A key over its concurrency may retry as soon as one of its own test-runs answers; a second is a fair first guess. */
const CONCURRENT_RETRY_AFTER_SECONDS = 1;

export interface ScriptTestLimits {
  /** Test-runs in flight per API key; the next answers 429 `script_tests_concurrent`. */
  concurrentPerKey: number;
}

/** Script test-runs: the real sandbox on sample input, with no side effects. */
export function scriptRoutes(
  sandbox: Pick<Sandbox, 'run'>,
  maximums: { maxTimeoutMs: number; maxMemoryMb: number },
  limits: ScriptTestLimits = { concurrentPerKey: SCRIPT_TESTS_CONCURRENT_PER_KEY },
): RouteModule {
  const concurrency = new PerKeyConcurrency(limits.concurrentPerKey);
  return (routes) => {
    routes.add({
      method: 'post', path: '/v1/scripts/test', scope: 'admin', rateLimit: 'script_test', tags: ['scripts'],
      summary: 'Run a script against sample input',
      description: `Runs the code in the same sandbox and limits as a script task and returns its output, logs and duration, or its error with the line and column in your code. Touches no account, mailbox or run. An API key may have ${limits.concurrentPerKey} test-runs in flight at once (429 \`script_tests_concurrent\` past it); when the sandbox queue is full the answer is 503 \`sandbox_busy\`, and when its process did not start or stopped before answering (not because of the script) 503 \`sandbox_start_failed\` or \`sandbox_stopped\`. All carry \`Retry-After\`.`,
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
      responses: {
        200: { description: 'The result; `ok: false` carries the script error.', schema: scriptResultSchema },
        503: { description: 'The sandbox queue is full (`sandbox_busy`), or its process did not start (`sandbox_start_failed`) or stopped before it answered (`sandbox_stopped`): an application/problem+json; retry after `Retry-After` seconds.' },
      },
      handler: async ({ body, principal }) => {
        const problems = checkLimits(body.limits ?? {}, maximums);
        if (problems.length > 0) throw new DomainError('script_limits_invalid', 'invalid', 'The requested limits exceed the server maximums.', problems.map((p) => ({ path: `limits.${p.path}`, message: p.message })));
        const release = concurrency.tryAcquire(principal?.keyId ?? 'unauthenticated');
        if (release === null) throw new ConcurrencyLimitedError('script_tests_concurrent', CONCURRENT_RETRY_AFTER_SECONDS, limits.concurrentPerKey);
        try {
          const result = await sandbox.run({ code: body.code, input: body.input, ...(body.limits ? { limits: body.limits } : {}) });
          return { status: 200, body: { ...result, queueMs: result.queueMs ?? 0 } };
        } catch (error) {
          const unavailable = sandboxUnavailable(error);
          if (!unavailable) throw error;
          return {
            status: 503,
            headers: { 'Retry-After': String(unavailable.retryAfterSeconds), 'Content-Type': 'application/problem+json' },
            body: problem(503, unavailable.code, unavailable.detail),
          };
        } finally {
          release();
        }
      },
    });
  };
}

/**
 * The sandbox's own conditions, none the script's fault, each a 503 the
 * client retries: a full queue (`sandbox_busy`), a process that did not
 * start (`sandbox_start_failed`) or that stopped before it answered
 * (`sandbox_stopped`, e.g. killed from outside).
 */
function sandboxUnavailable(error: unknown): { code: string; retryAfterSeconds: number; detail: string } | null {
  if (error instanceof SandboxBusyError) return { code: error.code, retryAfterSeconds: error.retryAfterSeconds, detail: 'The script sandbox is busy with other runs; retry later.' };
  if (error instanceof SandboxStartError) return { code: error.code, retryAfterSeconds: 1, detail: 'The script sandbox process did not start; retry shortly.' };
  if (error instanceof SandboxStoppedError) return { code: error.code, retryAfterSeconds: 1, detail: 'The script sandbox process stopped before it answered (not because of the script); retry shortly.' };
  return null;
}
