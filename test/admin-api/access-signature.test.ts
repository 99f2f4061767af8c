import { createHmac } from 'node:crypto';
import { computeSignature, computeSignatureV2, signatureHeaderValue, SIGNATURE_TOLERANCE_SECONDS, verifySignature } from '../../admin-api/signature';

const secret = 'cfs_test-signing-secret';
const body = Buffer.from('{"id":"evt_1","type":"request.created","data":{}}');
const t = 1_800_000_000;
const nowMs = t * 1000;

function codeOf(header: string | undefined, at = nowMs, raw = body): string | undefined {
  try {
    verifySignature({ header, rawBody: raw, secret, nowMs: at });
    return undefined;
  } catch (error) {
    return (error as { code: string }).code;
  }
}

describe('request signatures', () => {
  it('is hex HMAC-SHA256 of "<t>.<raw body>", as the README computes it', () => {
    // The same value as: printf '%s' "1800000000.$BODY" | openssl dgst -sha256 -hmac "$SECRET"
    expect(computeSignature(secret, t, body)).toBe(createHmac('sha256', secret).update(`${t}.${body.toString()}`).digest('hex'));
    expect(signatureHeaderValue(secret, body, t)).toBe(`t=${t},v1=${computeSignature(secret, t, body)}`);
  });

  it('accepts a valid signature, in upper-case hex too, and any matching v1 among several', () => {
    const v1 = computeSignature(secret, t, body);
    expect(codeOf(`t=${t},v1=${v1}`)).toBeUndefined();
    expect(codeOf(`t=${t},v1=${v1.toUpperCase()}`)).toBeUndefined();
    expect(codeOf(`t=${t}, v1=${'0'.repeat(64)}, v1=${v1}, v0=legacy`)).toBeUndefined();
  });

  it(`accepts a timestamp exactly ${SIGNATURE_TOLERANCE_SECONDS} s away either way and refuses one a second further`, () => {
    const header = signatureHeaderValue(secret, body, t);
    expect(codeOf(header, nowMs + SIGNATURE_TOLERANCE_SECONDS * 1000)).toBeUndefined();
    expect(codeOf(header, nowMs + (SIGNATURE_TOLERANCE_SECONDS + 1) * 1000)).toBe('signature_expired');
    expect(codeOf(header, nowMs - SIGNATURE_TOLERANCE_SECONDS * 1000)).toBeUndefined();
    expect(codeOf(header, nowMs - (SIGNATURE_TOLERANCE_SECONDS + 1) * 1000)).toBe('signature_timestamp_in_future');
  });

  it('refuses a changed body, a changed timestamp, and another secret', () => {
    const header = signatureHeaderValue(secret, body, t);
    expect(codeOf(header, nowMs, Buffer.from(body.toString().replace('evt_1', 'evt_2')))).toBe('signature_mismatch');
    expect(codeOf(header.replace(`t=${t}`, `t=${t + 1}`))).toBe('signature_mismatch');
    expect(codeOf(signatureHeaderValue('cfs_other', body, t))).toBe('signature_mismatch');
  });

  it('names a missing header apart from a malformed one', () => {
    expect(codeOf(undefined)).toBe('signature_missing');
    expect(codeOf('')).toBe('signature_missing');
    for (const header of [`v1=${'a'.repeat(64)}`, `t=${t}`, `t=abc,v1=${'a'.repeat(64)}`, `t=${t},v1=abc`, `t=${t},v1=${'a'.repeat(64)}=`, `t=${t},v1=${'a'.repeat(2000)}`]) {
      expect(codeOf(header)).toBe('signature_malformed');
    }
  });
});

describe('v2 request signatures (method and path covered)', () => {
  const target = { method: 'POST', path: '/v1/events' };

  function v2CodeOf(header: string, request = target): string | undefined {
    try {
      verifySignature({ header, rawBody: body, secret, nowMs, ...request });
      return undefined;
    } catch (error) {
      return (error as { code: string }).code;
    }
  }

  it('is hex HMAC-SHA256 of "<t>.<METHOD>.<path>.<raw body>"', () => {
    expect(computeSignatureV2(secret, t, 'POST', '/v1/events', body)).toBe(createHmac('sha256', secret).update(`${t}.POST./v1/events.${body.toString()}`).digest('hex'));
  });

  it('accepts a v2 signature for the method and path it was made for, alone or beside a v1', () => {
    const v2 = computeSignatureV2(secret, t, 'POST', '/v1/events', body);
    expect(v2CodeOf(`t=${t},v2=${v2}`)).toBeUndefined();
    expect(v2CodeOf(`t=${t},v1=${'0'.repeat(64)},v2=${v2}`)).toBeUndefined();
  });

  it('refuses a bodiless v2 signature replayed on another path or method', () => {
    const empty = Buffer.alloc(0);
    const v2 = computeSignatureV2(secret, t, 'GET', '/v1/accounts/user_1', empty);
    const check = (request: { method: string; path: string }) => {
      try {
        verifySignature({ header: `t=${t},v2=${v2}`, rawBody: empty, secret, nowMs, ...request });
        return undefined;
      } catch (error) {
        return (error as { code: string }).code;
      }
    };
    expect(check({ method: 'GET', path: '/v1/accounts/user_1' })).toBeUndefined();
    expect(check({ method: 'GET', path: '/v1/api-keys' })).toBe('signature_mismatch');
    expect(check({ method: 'DELETE', path: '/v1/accounts/user_1' })).toBe('signature_mismatch');
  });

  it('still accepts v1 (which covers only the timestamp and body) for existing senders', () => {
    expect(v2CodeOf(signatureHeaderValue(secret, body, t))).toBeUndefined();
  });
});
