import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { deriveKey, secretSeal } from '../../engine/secret-seal';

/**
 * The bearer secret is `cfk_<key id hex>_<43 base64url chars>`: 256 random
 * bits after a visible id, so a lookup is one read by id and the stored hash
 * never needs to resist guessing (a keyed hash suffices; a slow one would
 * only cost CPU on every request).
 */
const KEY_ID_BYTES = 8;
const SECRET_BYTES = 32;
const TOKEN_PATTERN = /^cfk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const SIGNING_SECRET_PREFIX = 'cfs_';

export interface IssuedKey {
  id: string;
  /** Shown once to the creator; never stored. */
  secret: string;
}

/** Server-side keys, derived once from the pepper, for hashing bearer secrets and sealing signing secrets. */
export interface KeyCrypto {
  hashSecret(secret: string): string;
  matchesHash(secret: string, storedHash: string): boolean;
  sealSigningSecret(signingSecret: string): string;
  openSigningSecret(sealed: string): string;
}

/** A new key id (`key_<16 hex>`) and its bearer secret. */
export function issueKey(): IssuedKey {
  const idHex = randomBytes(KEY_ID_BYTES).toString('hex');
  return { id: `key_${idHex}`, secret: `cfk_${idHex}_${randomBytes(SECRET_BYTES).toString('base64url')}` };
}

/** A signing secret for request signatures; used as the HMAC key exactly as written. */
export function issueSigningSecret(): string {
  return `${SIGNING_SECRET_PREFIX}${randomBytes(SECRET_BYTES).toString('base64url')}`;
}

/** The key id a bearer secret names, or null when it is not one of ours (then the store is not asked). */
export function keyIdOf(secret: string): string | null {
  const match = TOKEN_PATTERN.exec(secret);
  return match ? `key_${match[1]}` : null;
}

/**
 * Bearer secrets are stored as HMAC-SHA256 under a key derived from the
 * pepper, so a copy of the database alone cannot be used to authenticate.
 * Signing secrets must be recoverable to verify HMACs, so they are sealed
 * with AES-256-GCM under a second derived key (engine/secret-seal.ts).
 */
export function keyCrypto(pepper: string): KeyCrypto {
  const hashKey = deriveKey(pepper, 'api key hash');
  const seal = secretSeal(pepper, 'signing secret seal');
  const hash = (secret: string) => createHmac('sha256', hashKey).update(secret).digest();
  return {
    hashSecret: (secret) => hash(secret).toString('hex'),
    matchesHash(secret, storedHash) {
      const stored = Buffer.from(storedHash, 'hex');
      const presented = hash(secret);
      return stored.length === presented.length && timingSafeEqual(stored, presented);
    },
    sealSigningSecret: (signingSecret) => seal.seal(signingSecret),
    openSigningSecret: (sealed) => seal.open(sealed),
  };
}
