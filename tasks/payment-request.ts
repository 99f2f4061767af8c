import { createHash } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { DomainError, isDomainError, type FieldProblem } from '../engine/errors';
import { MAX_AMOUNT } from '../engine/ledger/limits';
import { DEFAULT_SUBMIT_SCHEDULE, MAX_SUBMIT_ATTEMPTS, submitRetryDelayMs, type SubmitSchedule } from '../engine/payments/gateway';
import type { PaymentRequest } from '../engine/payments/payment-requests';
import { z } from '../engine/zod';
import { isMalformedReference } from '../workflows/references';
import { resolveField, TaskInputError } from '../workflows/task-inputs';
import type { RetryPlan, TaskSpec, WaitRegistered } from '../workflows/types';
import { resolveAmount, resolveUnit } from './account';
import { contextPath, ownerReference, unitSchema } from './fields';
import type { TaskKind } from './task-kind';
import { MAX_WAIT_SECONDS } from './wait-for-event';

/** How long a request stays open by default before it expires: three days, a card gateway's usual authorisation window. */
export const DEFAULT_PAYMENT_REQUEST_TIMEOUT_SECONDS = 259_200;
/** Where the gateway's events name the request. */
export const PAYMENT_REQUEST_EVENT_PATH = 'data.paymentRequest.id';
/** The events that end the task's wait; `payment_request.processing` only moves the state on. */
const FINAL_EVENT_TYPES = ['payment_request.succeeded', 'payment_request.failed'];
/**
 * The retry policy of the task's activity: 8 attempts, 2 s doubling up to 5
 * minutes (about 20 minutes), the same as DEFAULT_SUBMIT_SCHEDULE. A
 * gateway's own `submit` schedule in PAYMENT_GATEWAYS sets the wait before
 * each retry and may end sooner, never later: its attempts are at most
 * these.
 */
export const SUBMIT_RETRY: RetryPlan = { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: MAX_SUBMIT_ATTEMPTS };

type PaymentRequestTask = TaskSpec & {
  gateway: string;
  amount?: number;
  amountFrom?: string;
  unit?: string;
  unitFrom?: string;
  ownerId: string;
  reference: string;
  timeoutSeconds: number;
};

interface PreparedPaymentRequest {
  id: string;
  gateway: string;
  ownerId: string;
  reference: string;
  amount: number;
  unit: string;
  timeoutSeconds: number;
  workflowId: string;
  effectKey: string;
  notBefore: Date;
}

/** The request id: derived from the effect key, so every retry of the task names the same request. */
export function paymentRequestIdOf(effectKey: string): string {
  return `pr_${createHash('sha256').update(effectKey).digest('base64url').slice(0, 24)}`;
}

/**
 * `payment_request`: creates a payment request for `reference` (e.g. a
 * bill) unless one for it is still pending or under processing (then the
 * task is skipped, `request_open`), submits it to the gateway, and waits
 * until the gateway's `payment_request.succeeded` or `.failed` event names
 * it, at most `timeoutSeconds` (then the request is expired and the task
 * fails with `wait_timeout`). Its output is `{ paymentRequest: { id,
 * reference, gateway, ownerId, amount, unit }, event }`, `event` the
 * gateway's final event. A gateway that
 * refuses the request (4xx) fails it at once (`gateway_refused`, with the
 * gateway's reason); one that never answers is retried on the gateway's
 * submit schedule (PAYMENT_GATEWAYS), then the request is expired
 * (`gateway_timeout`). Storage and states:
 * engine/payments/payment-requests.ts; gateways: engine/payments/gateway.ts.
 */
export const paymentRequestKind: TaskKind<PaymentRequestTask, PreparedPaymentRequest> = {
  type: 'payment_request',
  fields: z.object({
    gateway: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'must be a gateway name such as card').openapi({ description: 'A gateway in PAYMENT_GATEWAYS: checked at save when the API has gateways configured (422), and at run time by the worker (`gateway_unknown`).', example: 'card' }),
    amount: z.number().int().min(1).max(MAX_AMOUNT).optional().openapi({ description: 'Minor units, at least 1.' }),
    amountFrom: contextPath.optional().openapi({ description: 'A context path to the amount in minor units, e.g. `record.amount`; zero or negative fails the task with `amount_invalid`.' }),
    unit: unitSchema.optional(),
    unitFrom: contextPath.optional(),
    ownerId: ownerReference.openapi({ description: 'Who pays: a literal or one `{{path}}`, e.g. `{{record.ownerId}}`.' }),
    reference: z.string().min(1).max(200).openapi({ description: 'What the request pays: a literal or one whole `{{path}}`, e.g. `{{record.id}}`. While a request for it is pending or under processing, no other is created.' }),
    timeoutSeconds: z.number().int().min(1).max(MAX_WAIT_SECONDS).default(DEFAULT_PAYMENT_REQUEST_TIMEOUT_SECONDS).openapi({ description: 'How long the run waits for the gateway\'s outcome; the request expires then.' }),
  }),
  validate(task, { at, paymentGateways = [] }) {
    const problems: FieldProblem[] = [];
    if (paymentGateways.length > 0 && !paymentGateways.includes(task.gateway)) problems.push({ path: at('gateway'), message: `unknown gateway "${task.gateway}"; known: ${paymentGateways.join(', ')}` });
    for (const field of ['ownerId', 'reference'] as const) {
      if (isMalformedReference(task[field])) problems.push({ path: at(field), message: 'must be a literal or one whole {{path}} reference' });
    }
    if ((task.amount === undefined) === (task.amountFrom === undefined)) problems.push({ path: at('amount'), message: 'give exactly one of amount and amountFrom' });
    if ((task.unit === undefined) === (task.unitFrom === undefined)) problems.push({ path: at('unit'), message: 'give exactly one of unit and unitFrom' });
    return problems;
  },
  eventRoutes: () => [{ types: FINAL_EVENT_TYPES, path: PAYMENT_REQUEST_EVENT_PATH }],
  execution: {
    mode: 'wait_for_event',
    local: false,
    // One gateway call (the gateway's timeoutMs: 15 s by default, at most 45 s) and a few inserts; the wait itself is a durable timer in the workflow.
    startToCloseTimeout: '60 seconds',
    retry: SUBMIT_RETRY,
  },
  summary: (task) => `payment request via ${task.gateway} for ${task.reference}`,
  prepare(task, context, effect) {
    const scope = context as unknown as Record<string, unknown>;
    const amount = resolveAmount(task, context, false);
    if (amount < 1) throw new TaskInputError('amount_invalid', `a payment request needs an amount of at least 1 minor unit; got ${amount}`);
    return {
      id: paymentRequestIdOf(effect.key),
      gateway: task.gateway,
      ownerId: resolveField(task.ownerId, scope, 'ownerId'),
      reference: resolveField(task.reference, scope, 'reference'),
      amount,
      unit: resolveUnit(task, context),
      timeoutSeconds: task.timeoutSeconds,
      workflowId: effect.workflowId,
      effectKey: effect.key,
      notBefore: new Date(context.run?.startedAt ?? 0),
    };
  },
  async execute(prepared, deps) {
    if (!deps.paymentRequests) throw new DomainError('payment_requests_unavailable', 'unavailable', 'This worker has no payment request store.');
    const gateway = deps.gateways?.get(prepared.gateway);
    if (!gateway) throw new TaskInputError('gateway_unknown', `no gateway "${prepared.gateway}" is configured (PAYMENT_GATEWAYS): known: ${deps.gateways?.names().join(', ') || 'none'}`);
    const outcome = await deps.paymentRequests.create({ ...prepared, expiresInSeconds: prepared.timeoutSeconds });
    if ('open' in outcome) return { output: { paymentRequest: outcome.open }, skipReason: 'request_open' };
    const request: PaymentRequest = outcome.created;
    if (request.state !== 'pending' && request.state !== 'under_processing') throw ApplicationFailure.nonRetryable(`payment request ${request.id} is already ${request.state}${request.reason ? `: ${request.reason}` : ''}`, request.state === 'failed' ? 'payment_failed' : 'payment_request_expired');
    const { attempt, retryPolicy } = Context.current().info;
    const answer = await submitOrExpire(() => gateway.submit(request), async () => deps.paymentRequests!.finish(request.id, 'expired', 'gateway_timeout'), attempt, gateway.schedule, retryPolicy?.maximumAttempts);
    if (!answer.accepted) {
      await deps.paymentRequests.finish(request.id, 'failed', answer.reason);
      throw new TaskInputError('gateway_refused', `gateway "${prepared.gateway}" refused payment request ${request.id} (${answer.status}): ${answer.reason}`);
    }
    const event = await deps.eventWaits.register({ types: FINAL_EVENT_TYPES, path: PAYMENT_REQUEST_EVENT_PATH, value: request.id, notBefore: prepared.notBefore, workflowId: prepared.workflowId, effectKey: prepared.effectKey });
    const paymentRequest = { id: request.id, reference: request.reference, gateway: request.gateway, ownerId: request.ownerId, amount: request.amount, unit: request.unit };
    const registered: WaitRegistered = { path: PAYMENT_REQUEST_EVENT_PATH, value: request.id, types: FINAL_EVENT_TYPES, outputWith: { paymentRequest }, ...(event ? { event } : {}) };
    return { output: registered };
  },
  async simulate(prepared) {
    const request = { id: prepared.id, gateway: prepared.gateway, ownerId: prepared.ownerId, reference: prepared.reference, amount: prepared.amount, unit: prepared.unit, state: 'pending' };
    return { output: { paymentRequest: request, event: null }, preview: { paymentRequest: request } };
  },
};

/**
 * Submits; an outage before the last attempt is thrown for the retry, after
 * the gateway's schedule's wait, and on the last (`attempt` of the
 * activity, from 1; the last is the schedule's `maximumAttempts` or the
 * activity's retry policy's, whichever is fewer) it expires the request
 * (`gateway_timeout`) and fails the task for good. A failure that is final
 * anyway (not an outage) is thrown as it is before the last attempt.
 */
export async function submitOrExpire<T>(submit: () => Promise<T>, expire: () => Promise<unknown>, attempt: number, schedule: SubmitSchedule = DEFAULT_SUBMIT_SCHEDULE, policyAttempts: number = SUBMIT_RETRY.maximumAttempts): Promise<T> {
  try {
    return await submit();
  } catch (error) {
    // 0 in a retry policy: unlimited.
    const last = Math.min(schedule.maximumAttempts, policyAttempts > 0 ? policyAttempts : Number.POSITIVE_INFINITY);
    if (attempt < last) throw retryLater(error, submitRetryDelayMs(schedule, attempt));
    await expire();
    throw ApplicationFailure.nonRetryable(`the gateway did not answer after ${attempt} attempts; the payment request is expired`, 'gateway_timeout');
  }
}

/** An outage as a retryable failure whose next attempt comes after `delayMs`; a final failure as it is. */
function retryLater(error: unknown, delayMs: number): unknown {
  if (error instanceof ApplicationFailure) return error.nonRetryable ? error : ApplicationFailure.create({ message: error.message, type: error.type ?? undefined, nextRetryDelay: delayMs, cause: error });
  const { retryable, code } = error as { retryable?: unknown; code?: unknown };
  if (retryable === false || (isDomainError(error) && error.kind !== 'unavailable')) return error;
  return ApplicationFailure.create({ message: (error as Error).message ?? String(error), type: typeof code === 'string' ? code : 'gateway_unavailable', nextRetryDelay: delayMs, cause: error instanceof Error ? error : undefined });
}
