import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

// Secrets Creditflow must read back in the clear (API keys' signing secrets,
// triggers' webhook secrets) are stored sealed with AES-256-GCM under a key
// derived from the server's pepper, so a copy of the database alone reveals
// none of them. Each use derives its own key from the pepper (`purpose`), so
// a sealed value of one kind cannot be opened as another.

const CIPHER = 'aes-256-gcm';
const GCM_IV_BYTES = 12;

/** Seals and opens secrets of one purpose. */
export interface SecretSeal {
  /** `<iv>.<tag>.<ciphertext>`, each base64url; a fresh IV every time. */
  seal(secret: string): string;
  /** The secret in the clear; throws when the value was not sealed under this pepper and purpose. */
  open(sealed: string): string;
}

/** A 32-byte key for `purpose`, derived from the pepper with HKDF-SHA256. */
export function deriveKey(pepper: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', pepper, Buffer.alloc(0), `creditflow ${purpose}`, 32));
}

/** The pepper the server seals and hashes under: API_KEY_PEPPER, else ADMIN_API_KEY. */
export function pepperOf(config: { API_KEY_PEPPER?: string | undefined; ADMIN_API_KEY: string }): string {
  return config.API_KEY_PEPPER ?? config.ADMIN_API_KEY;
}

/** AES-256-GCM under the key derived for `purpose`. */
export function secretSeal(pepper: string, purpose: string): SecretSeal {
  const key = deriveKey(pepper, purpose);
  return {
    seal(secret) {
      const iv = randomBytes(GCM_IV_BYTES);
      const cipher = createCipheriv(CIPHER, key, iv);
      const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
      return [iv, cipher.getAuthTag(), sealed].map((part) => part.toString('base64url')).join('.');
    },
    open(sealed) {
      const [iv, tag, data] = sealed.split('.').map((part) => Buffer.from(part, 'base64url'));
      if (!iv || !tag || !data) throw new Error('sealed secret is malformed');
      const decipher = createDecipheriv(CIPHER, key, iv);
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
    },
  };
}
