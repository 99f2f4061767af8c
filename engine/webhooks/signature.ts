import { createHmac } from 'node:crypto';

// The one implementation of the Creditflow signing scheme. Event sources sign
// what they send to /v1/events with it (admin-api/signature.ts verifies), and
// webhook tasks sign what Creditflow sends out, so a receiver can check both
// with the same few lines.

/** hex HMAC-SHA256(secret, t + "." + raw body): the `v1` value of a signature. */
export function computeSignature(secret: string, timestampSeconds: number, rawBody: Buffer | string): string {
  return createHmac('sha256', secret).update(`${timestampSeconds}.`).update(rawBody).digest('hex');
}

/** The whole `Creditflow-Signature` value for a body: `t=<unix seconds>,v1=<hex>`. */
export function signatureHeaderValue(secret: string, rawBody: Buffer | string, timestampSeconds = Math.floor(Date.now() / 1000)): string {
  return `t=${timestampSeconds},v1=${computeSignature(secret, timestampSeconds, rawBody)}`;
}
