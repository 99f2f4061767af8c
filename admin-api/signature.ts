import { createHmac, timingSafeEqual } from 'node:crypto';
import { DomainError } from '../engine/errors';
import { computeSignature } from '../engine/webhooks/signature';

// Signing itself lives beside the webhook sender, which signs outgoing calls
// with the same scheme; it is re-exported here for the API's callers.
export { computeSignature, signatureHeaderValue } from '../engine/webhooks/signature';

/** The request header that carries a signature. */
export const SIGNATURE_HEADER = 'Creditflow-Signature';

/**
 * How far a signature's timestamp may lie from the server clock, either way.
 * Five minutes bounds replay of a captured request while tolerating clock
 * skew; within it a replayed event is still harmless, its id deduplicates it.
 */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/**
 * hex HMAC-SHA256(secret, t + "." + METHOD + "." + path + "." + raw body): the
 * `v2` value. Unlike v1 it covers the method and the path (with its query
 * string, as sent), so a captured signature cannot be replayed on another
 * route within the tolerance; a bodiless v1 signature could.
 */
export function computeSignatureV2(secret: string, timestampSeconds: number, method: string, path: string, rawBody: Buffer | string): string {
  return createHmac('sha256', secret).update(`${timestampSeconds}.${method.toUpperCase()}.${path}.`).update(rawBody).digest('hex');
}

/** Bounds what is parsed from an untrusted header: a timestamp and a few v1/v2 values. */
const MAX_HEADER_LENGTH = 1024;
const HMAC_SHA256_HEX_LENGTH = 64;

function refuse(code: string, message: string): DomainError {
  return new DomainError(code, 'unauthorized', message);
}

/** The schemes read from the header; others (v0, a future v3) are ignored, as signers may send several. */
type Scheme = 'v1' | 'v2';

/** Reads `t=<unix seconds>,v1=<hex>[,v2=<hex>...]`; several values let a sender roll secrets or schemes. */
function parseHeader(header: string): { timestampSeconds: number; signatures: Array<{ scheme: Scheme; hex: string }> } | null {
  if (header.length > MAX_HEADER_LENGTH) return null;
  let timestampSeconds: number | undefined;
  const signatures: Array<{ scheme: Scheme; hex: string }> = [];
  for (const part of header.split(',')) {
    const [name, value, ...rest] = part.trim().split('=');
    if (!name || value === undefined || rest.length > 0) return null;
    if (name === 't' && /^\d{1,12}$/.test(value)) timestampSeconds = Number(value);
    else if ((name === 'v1' || name === 'v2') && value.length === HMAC_SHA256_HEX_LENGTH && /^[0-9a-f]+$/i.test(value)) signatures.push({ scheme: name, hex: value.toLowerCase() });
    else if (name === 't' || name === 'v1' || name === 'v2') return null;
  }
  return timestampSeconds === undefined || signatures.length === 0 ? null : { timestampSeconds, signatures };
}

/**
 * Checks a request signed with `secret`; throws a 401 DomainError whose code
 * says what was wrong. The comparison runs in constant time.
 */
export function verifySignature(input: { header: string | undefined; rawBody: Buffer; secret: string; nowMs: number; method?: string; path?: string }): void {
  if (input.header === undefined || input.header === '') {
    throw refuse('signature_missing', `This API key signs its requests: send a ${SIGNATURE_HEADER} header.`);
  }
  const parsed = parseHeader(input.header);
  if (!parsed) {
    throw refuse('signature_malformed', `The ${SIGNATURE_HEADER} header must read "t=<unix seconds>,v2=<64 hex digits>" (or v1).`);
  }
  const ageSeconds = Math.floor(input.nowMs / 1000) - parsed.timestampSeconds;
  if (ageSeconds > SIGNATURE_TOLERANCE_SECONDS) {
    throw refuse('signature_expired', `The signature timestamp is ${ageSeconds} s old; at most ${SIGNATURE_TOLERANCE_SECONDS} s is accepted. Sign each request when sending it.`);
  }
  if (-ageSeconds > SIGNATURE_TOLERANCE_SECONDS) {
    throw refuse('signature_timestamp_in_future', `The signature timestamp is ${-ageSeconds} s ahead of the server clock; at most ${SIGNATURE_TOLERANCE_SECONDS} s of skew is accepted.`);
  }
  const expected: Record<Scheme, Buffer | undefined> = {
    v1: Buffer.from(computeSignature(input.secret, parsed.timestampSeconds, input.rawBody), 'hex'),
    // Without the request line (a caller that does not pass it), no v2 value can match.
    v2: input.method !== undefined && input.path !== undefined ? Buffer.from(computeSignatureV2(input.secret, parsed.timestampSeconds, input.method, input.path, input.rawBody), 'hex') : undefined,
  };
  const matches = parsed.signatures.some(({ scheme, hex }) => {
    const wanted = expected[scheme];
    return wanted !== undefined && timingSafeEqual(Buffer.from(hex, 'hex'), wanted);
  });
  if (!matches) {
    throw refuse('signature_mismatch', 'The signature does not match the request (v2: timestamp, method, path and body; v1: timestamp and body) for this key\'s signing secret.');
  }
}
