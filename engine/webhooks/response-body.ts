import type { IncomingMessage } from 'node:http';
import { jsonDepthExceeds } from '../json-depth';

/** At most this many bytes of a response body are read; the rest is never received. */
export const WEBHOOK_MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * JSON nested deeper than this is returned as text: run outputs are stored
 * and templated, and a hostile receiver should not choose how deep.
 */
export const WEBHOOK_MAX_RESPONSE_DEPTH = 32;

/** The first WEBHOOK_MAX_RESPONSE_BYTES of a body, and whether more was sent. */
export interface CapturedBody {
  readonly bytes: Buffer;
  readonly truncated: boolean;
}

/**
 * Reads a response body up to the limit. Past it the response (and with it
 * the socket) is destroyed, so a receiver streaming without end costs at most
 * one limit of memory and stops at once.
 */
export async function captureBody(response: IncomingMessage): Promise<CapturedBody> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    if (size + chunk.length > WEBHOOK_MAX_RESPONSE_BYTES) {
      chunks.push(chunk.subarray(0, WEBHOOK_MAX_RESPONSE_BYTES - size));
      response.destroy();
      return { bytes: Buffer.concat(chunks), truncated: true };
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { bytes: Buffer.concat(chunks), truncated: false };
}

const JSON_MEDIA_TYPE = /^application\/(?:[a-z0-9.+-]+\+)?json\s*(?:;|$)/i;

/**
 * The body as a JSON value when the content type says JSON, the body is
 * whole and it parses (and nests at most WEBHOOK_MAX_RESPONSE_DEPTH levels);
 * otherwise as UTF-8 text.
 */
export function decodeBody(captured: CapturedBody, contentType: string | undefined): unknown {
  const text = captured.bytes.toString('utf8');
  if (captured.truncated || contentType === undefined || !JSON_MEDIA_TYPE.test(contentType)) return text;
  try {
    const value: unknown = JSON.parse(text);
    return jsonDepthExceeds(value, WEBHOOK_MAX_RESPONSE_DEPTH) ? text : value;
  } catch {
    return text;
  }
}
