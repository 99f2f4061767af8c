// A local payment gateway for the dev stack and tests: it takes the payment
// requests Creditflow's HTTP gateway adapter submits (engine/payments/
// gateway.ts), answers at once (accepted, or refused when told to), and
// later reports each request's outcome as the real gateway would, by
// posting `payment_request.processing` and `.succeeded` or `.failed` to
// /v1/events.
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Where the dev stack's worker sends gateway "card" (PAYMENT_GATEWAYS in devstack/dev-command.ts); `npm run demo -- bill-run` listens here. */
export const DEV_CARD_GATEWAY = { url: 'http://127.0.0.1:4011/payment-requests', secret: 'gwsec_dev_card_gateway_stub' } as const;

/** A request as the stub received it. */
export interface SubmittedRequest {
  paymentRequestId: string;
  reference: string;
  ownerId: string;
  amount: number;
  unit: string;
  expiresAt: string;
  idempotencyKey: string;
  signature: string;
}

/** Posts an event to Creditflow; the caller supplies its API client. */
export type PostEvent = (event: { id: string; type: string; data: Record<string, unknown> }) => Promise<void>;

export interface GatewayStubOptions {
  /** 0 (default): a free port. */
  port?: number;
  /** Refuse requests for these references with 422 and this reason (a card declined at once). */
  refuse?: (request: SubmittedRequest) => string | undefined;
  /** Never answer requests for which this is true (a gateway that is down behind an open port): the connection stays open until the caller gives up. */
  hold?: (request: SubmittedRequest) => boolean;
  /** Settle each accepted request on its own this long after it arrives; absent: only when told to. */
  autoSettle?: { outcome: 'succeeded' | 'failed'; afterMs: number };
}

export class PaymentGatewayStub {
  /** Accepted requests, once each (a retried submit with the same Idempotency-Key is the same request). */
  readonly requests: SubmittedRequest[] = [];
  /** Every submit, retries included. */
  submits = 0;
  /** Submits left unanswered (`hold`), each retry again. */
  readonly held: SubmittedRequest[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(private readonly server: Server, private readonly post: PostEvent, private readonly options: GatewayStubOptions) {}

  static async start(post: PostEvent, options: GatewayStubOptions = {}): Promise<PaymentGatewayStub> {
    const server = http.createServer();
    const stub = new PaymentGatewayStub(server, post, options);
    server.on('request', (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        stub.submits += 1;
        let body: SubmittedRequest;
        try {
          body = { ...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as SubmittedRequest), idempotencyKey: String(request.headers['idempotency-key'] ?? ''), signature: String(request.headers['creditflow-signature'] ?? '') };
        } catch {
          response.writeHead(400).end();
          return;
        }
        if (stub.options.hold?.(body)) {
          stub.held.push(body);
          return;
        }
        const refusal = stub.options.refuse?.(body);
        if (refusal !== undefined) {
          response.writeHead(422, { 'content-type': 'application/json' }).end(JSON.stringify({ reason: refusal }));
          return;
        }
        if (!stub.requests.some((known) => known.idempotencyKey === body.idempotencyKey)) {
          stub.requests.push(body);
          if (stub.options.autoSettle) stub.later(body, stub.options.autoSettle);
        }
        response.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ paymentRequestId: body.paymentRequestId, status: 'pending' }));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', resolve);
    });
    return stub;
  }

  url(path = '/payment-requests'): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  /** The gateway started collecting the request. */
  async process(paymentRequestId: string): Promise<void> {
    await this.post({ id: `gw_${paymentRequestId}_processing`, type: 'payment_request.processing', data: { paymentRequest: { id: paymentRequestId } } });
  }

  /** The request was paid (processing first, as a real gateway reports it). */
  async succeed(paymentRequestId: string): Promise<void> {
    await this.process(paymentRequestId);
    await this.post({ id: `gw_${paymentRequestId}_succeeded`, type: 'payment_request.succeeded', data: { paymentRequest: { id: paymentRequestId } } });
  }

  /** The request could not be collected. */
  async fail(paymentRequestId: string, reason = 'card_declined'): Promise<void> {
    await this.process(paymentRequestId);
    await this.post({ id: `gw_${paymentRequestId}_failed`, type: 'payment_request.failed', data: { paymentRequest: { id: paymentRequestId, reason } } });
  }

  private later(request: SubmittedRequest, settle: { outcome: 'succeeded' | 'failed'; afterMs: number }): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void (settle.outcome === 'succeeded' ? this.succeed(request.paymentRequestId) : this.fail(request.paymentRequestId)).catch(() => undefined);
    }, settle.afterMs);
    this.timers.add(timer);
  }

  stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
