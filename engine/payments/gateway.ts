/**
 * Payment gateways behind one interface: the `payment_request` task submits
 * a request, the gateway answers at once (accepted, or refused for good),
 * and later reports the outcome as events (`payment_request.processing`,
 * `.succeeded`, `.failed`, `data.paymentRequest.id` naming the request)
 * posted to /v1/events. The HTTP implementation sends through the webhook
 * sender: the same address guard, signed (`Creditflow-Signature`) with the
 * gateway's secret, `Idempotency-Key` the request id, so a retried submit
 * is the same request to the gateway.
 */
import { jsonText, z } from '../zod';
import { isWebhookError, type WebhookSender } from '../webhooks';

/** What a gateway is asked to collect. Amounts are minor units of `unit`. */
export interface GatewayRequest {
  id: string;
  reference: string;
  ownerId: string;
  amount: number;
  unit: string;
  expiresAt: string;
}

/** The gateway's immediate answer; outages are thrown (retryable), never answered. */
export type GatewayAnswer = { accepted: true } | { accepted: false; status: number; reason: string };

export interface PaymentGateway {
  submit(request: GatewayRequest): Promise<GatewayAnswer>;
  /** How long a submit may take and how an unanswered one is retried before the request expires. */
  readonly schedule: SubmitSchedule;
}

/**
 * A gateway's submit schedule: each call may take `timeoutMs`; a call the
 * gateway does not answer (network, timeout, 5xx) is tried again after
 * `initialIntervalMs`, each wait `backoffCoefficient` times the last, at
 * most `maximumIntervalMs`, until `maximumAttempts` calls have failed; the
 * last expires the request (`gateway_timeout`).
 */
export interface SubmitSchedule {
  timeoutMs: number;
  maximumAttempts: number;
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
}

/**
 * The production default: 15 s per call, 8 calls, waits of 2 s doubling up
 * to 5 minutes (about 20 minutes in all). The attempts and waits are those
 * of the payment_request task's retry policy (SUBMIT_RETRY in
 * tasks/payment-request.ts), which bounds the attempts a gateway may ask for.
 */
export const DEFAULT_SUBMIT_SCHEDULE: SubmitSchedule = { timeoutMs: 15_000, maximumAttempts: 8, initialIntervalMs: 2_000, backoffCoefficient: 2, maximumIntervalMs: 300_000 };

/** The most attempts a gateway's schedule may ask for: the task's retry policy allows no more. */
export const MAX_SUBMIT_ATTEMPTS = 8;

/** How long to wait after failed attempt `attempt` (from 1) before the next. */
export function submitRetryDelayMs(schedule: SubmitSchedule, attempt: number): number {
  return Math.min(schedule.initialIntervalMs * schedule.backoffCoefficient ** Math.max(0, attempt - 1), schedule.maximumIntervalMs);
}

/** The gateways a worker knows, by the name triggers use (`gateway: "card"`). */
export interface PaymentGateways {
  get(name: string): PaymentGateway | undefined;
  names(): string[];
}

/** The longest a gateway call may take by default. */
export const GATEWAY_TIMEOUT_MS = DEFAULT_SUBMIT_SCHEDULE.timeoutMs;

const submitScheduleSchema = z.strictObject({
  // The task's activity has 60 s per attempt, which also covers the request's inserts.
  timeoutMs: z.number().int().min(100).max(45_000).optional(),
  maximumAttempts: z.number().int().min(1).max(MAX_SUBMIT_ATTEMPTS).optional(),
  initialIntervalMs: z.number().int().min(100).max(3_600_000).optional(),
  backoffCoefficient: z.number().min(1).max(10).optional(),
  maximumIntervalMs: z.number().int().min(100).max(3_600_000).optional(),
});

/**
 * PAYMENT_GATEWAYS: `{ "<name>": { "url", "secret", "submit"? } }` as JSON;
 * `submit` overrides parts of DEFAULT_SUBMIT_SCHEDULE for that gateway.
 */
export const paymentGatewaysSchema = jsonText()
  .pipe(z.record(
    z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'gateway names must be lowercase letters, digits, _ and -'),
    z.strictObject({ url: z.url(), secret: z.string().min(16, 'must be at least 16 characters'), submit: submitScheduleSchema.optional() }),
  ));

export type GatewayConfig = z.infer<typeof paymentGatewaysSchema>;

/** The reason a refusing gateway gave: `reason` or `error` in its JSON answer, else the status. */
function reasonOf(body: unknown, status: number | undefined): string {
  const value = (body as { reason?: unknown; error?: unknown } | null | undefined);
  const text = typeof value?.reason === 'string' ? value.reason : typeof value?.error === 'string' ? value.error : undefined;
  return (text ?? `the gateway answered ${status ?? 'with a refusal'}`).slice(0, 500);
}

/** A gateway's configured `submit`, the defaults filled in. */
export function submitScheduleOf(submit: GatewayConfig[string]['submit']): SubmitSchedule {
  const schedule = { ...DEFAULT_SUBMIT_SCHEDULE, ...Object.fromEntries(Object.entries(submit ?? {}).filter(([, value]) => value !== undefined)) };
  return { ...schedule, maximumIntervalMs: Math.max(schedule.maximumIntervalMs, schedule.initialIntervalMs) };
}

/** One gateway per configured name, each an HTTP endpoint called through `sender`. */
export function httpGateways(config: GatewayConfig, sender: WebhookSender): PaymentGateways {
  const gateways = new Map<string, PaymentGateway>(Object.entries(config).map(([name, { url, secret, submit }]) => {
    const schedule = submitScheduleOf(submit);
    const gateway: PaymentGateway = {
      schedule,
      async submit(request) {
        try {
          await sender.send({ url, method: 'POST', body: { paymentRequestId: request.id, reference: request.reference, ownerId: request.ownerId, amount: request.amount, unit: request.unit, expiresAt: request.expiresAt }, timeoutMs: schedule.timeoutMs, idempotencyKey: request.id, signingSecret: secret });
          return { accepted: true };
        } catch (error) {
          if (isWebhookError(error) && error.code === 'webhook_rejected') return { accepted: false, status: error.status ?? 400, reason: reasonOf(error.body, error.status) };
          throw error;
        }
      },
    };
    return [name, gateway];
  }));
  return { get: (name) => gateways.get(name), names: () => [...gateways.keys()] };
}
