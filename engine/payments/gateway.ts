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
import { z } from '../zod';
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
}

/** The gateways a worker knows, by the name triggers use (`gateway: "card"`). */
export interface PaymentGateways {
  get(name: string): PaymentGateway | undefined;
  names(): string[];
}

/** The longest a gateway call may take. */
export const GATEWAY_TIMEOUT_MS = 15_000;

/** PAYMENT_GATEWAYS: `{ "<name>": { "url", "secret" } }` as JSON. */
export const paymentGatewaysSchema = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON' });
      return z.NEVER;
    }
  })
  .pipe(z.record(
    z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'gateway names must be lowercase letters, digits, _ and -'),
    z.strictObject({ url: z.url(), secret: z.string().min(16, 'must be at least 16 characters') }),
  ));

export type GatewayConfig = z.infer<typeof paymentGatewaysSchema>;

/** The reason a refusing gateway gave: `reason` or `error` in its JSON answer, else the status. */
function reasonOf(body: unknown, status: number | undefined): string {
  const value = (body as { reason?: unknown; error?: unknown } | null | undefined);
  const text = typeof value?.reason === 'string' ? value.reason : typeof value?.error === 'string' ? value.error : undefined;
  return (text ?? `the gateway answered ${status ?? 'with a refusal'}`).slice(0, 500);
}

/** One gateway per configured name, each an HTTP endpoint called through `sender`. */
export function httpGateways(config: GatewayConfig, sender: WebhookSender): PaymentGateways {
  const gateways = new Map(Object.entries(config).map(([name, { url, secret }]) => [name, {
    async submit(request: GatewayRequest): Promise<GatewayAnswer> {
      try {
        await sender.send({ url, method: 'POST', body: { paymentRequestId: request.id, reference: request.reference, ownerId: request.ownerId, amount: request.amount, unit: request.unit, expiresAt: request.expiresAt }, timeoutMs: GATEWAY_TIMEOUT_MS, idempotencyKey: request.id, signingSecret: secret });
        return { accepted: true };
      } catch (error) {
        if (isWebhookError(error) && error.code === 'webhook_rejected') return { accepted: false, status: error.status ?? 400, reason: reasonOf(error.body, error.status) };
        throw error;
      }
    },
  } satisfies PaymentGateway]));
  return { get: (name) => gateways.get(name), names: () => [...gateways.keys()] };
}
