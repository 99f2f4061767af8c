import { Schema, type Connection, type Model } from 'mongoose';
import type { Config } from '../../engine/config';
import { olderThan, pageOf } from '../../engine/cursor';
import { DomainError } from '../../engine/errors';
import type { Logger } from '../../engine/logger';
import { pepperOf } from '../../engine/secret-seal';
import type { KeyResolver, Scope } from '../auth';
import { verifySignature } from '../signature';
import { issueKey, issueSigningSecret, keyCrypto, keyIdOf } from './secrets';

/**
 * `lastUsedAt` is refreshed at most this often per key: a conditional write
 * once a minute instead of one per request, and only one replica wins it.
 */
const LAST_USED_RESOLUTION_MS = 60_000;

interface ApiKeyDoc {
  _id: string;
  name: string;
  scopes: Scope[];
  /** HMAC-SHA256 of the bearer secret under a key derived from the pepper, hex. */
  secretHash: string;
  /** The one owner an owner-scoped key may read; null (or absent, on keys made before) for other keys. */
  ownerId?: string | null;
  /** AES-256-GCM sealed signing secret; absent for keys that do not sign. */
  signingSecretSealed: string | null;
  createdAt: Date;
  createdBy: string;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  revokedBy: string | null;
}

/** An API key as the API shows it: never its secrets. */
export interface ApiKeyRecord {
  id: string;
  name: string;
  scopes: Scope[];
  /** The visible start of the bearer secret, to tell keys apart. */
  prefix: string;
  signing: boolean;
  /** Set on owner-scoped keys: the owner whose accounts and entries the key reads. */
  ownerId: string | null;
  createdAt: Date;
  createdBy: string;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  revokedBy: string | null;
}

const apiKeySchema = new Schema<ApiKeyDoc>(
  {
    _id: String,
    name: { type: String, required: true },
    scopes: { type: [String], required: true },
    secretHash: { type: String, required: true },
    ownerId: { type: String, default: null },
    signingSecretSealed: { type: String, default: null },
    createdAt: { type: Date, required: true, index: true },
    createdBy: { type: String, required: true },
    lastUsedAt: { type: Date, default: null },
    revokedAt: { type: Date, default: null },
    revokedBy: { type: String, default: null },
  },
  { collection: 'api_keys', versionKey: false, minimize: false },
);

function toRecord(doc: ApiKeyDoc): ApiKeyRecord {
  return {
    id: doc._id, name: doc.name, scopes: doc.scopes, prefix: `cfk_${doc._id.slice('key_'.length)}`, signing: doc.signingSecretSealed !== null, ownerId: doc.ownerId ?? null,
    createdAt: doc.createdAt, createdBy: doc.createdBy, lastUsedAt: doc.lastUsedAt, revokedAt: doc.revokedAt, revokedBy: doc.revokedBy,
  };
}

function notFound(id: string): DomainError {
  return new DomainError('api_key_not_found', 'not_found', `No API key with id "${id}".`);
}

export interface ApiKeyStoreDependencies {
  connection: Connection;
  config: Pick<Config, 'ADMIN_API_KEY' | 'API_KEY_PEPPER' | 'NODE_ENV'>;
  logger: Logger;
  clock?: () => Date;
}

/**
 * API keys in the store. Every authentication reads the key by id (no cache),
 * so a revocation holds on every replica from its next request on.
 */
export function createApiKeyStore(deps: ApiKeyStoreDependencies) {
  const { connection, logger } = deps;
  const clock = deps.clock ?? (() => new Date());
  const keys = (connection.models.ApiKey as Model<ApiKeyDoc> | undefined) ?? connection.model<ApiKeyDoc>('ApiKey', apiKeySchema);
  if (!deps.config.API_KEY_PEPPER && deps.config.NODE_ENV === 'production') {
    logger.warn('API_KEY_PEPPER is unset: API key hashes derive from ADMIN_API_KEY, so rotating it invalidates every API key');
  }
  const crypto = keyCrypto(pepperOf(deps.config));

  async function current(id: string): Promise<ApiKeyDoc> {
    const doc = await keys.findById(id).lean<ApiKeyDoc>();
    if (!doc) throw notFound(id);
    return doc;
  }

  function touch(doc: ApiKeyDoc, nowMs: number): void {
    if (doc.lastUsedAt && nowMs - doc.lastUsedAt.getTime() < LAST_USED_RESOLUTION_MS) return;
    const staleBefore = new Date(nowMs - LAST_USED_RESOLUTION_MS);
    keys.updateOne({ _id: doc._id, $or: [{ lastUsedAt: null }, { lastUsedAt: { $lte: staleBefore } }] }, { $set: { lastUsedAt: new Date(nowMs) } })
      .catch((error: unknown) => logger.warn({ err: error, keyId: doc._id }, 'could not record API key use'));
  }

  const resolve: KeyResolver = async (secret, request) => {
    const id = keyIdOf(secret);
    if (!id) return null;
    const doc = await keys.findById(id).lean<ApiKeyDoc>();
    if (!doc || !crypto.matchesHash(secret, doc.secretHash)) return null;
    if (doc.revokedAt) throw new DomainError('api_key_revoked', 'unauthorized', `API key ${doc._id} was revoked at ${doc.revokedAt.toISOString()}.`);
    if (doc.signingSecretSealed !== null) {
      verifySignature({ header: request.signatureHeader, rawBody: request.rawBody, secret: crypto.openSigningSecret(doc.signingSecretSealed), nowMs: request.nowMs, method: request.method, path: request.path });
    }
    touch(doc, request.nowMs);
    return { keyId: doc._id, scopes: doc.scopes, ...(doc.ownerId ? { ownerId: doc.ownerId } : {}) };
  };

  return {
    resolve,

    async ensureIndexes(): Promise<void> {
      await keys.createIndexes();
    },

    /** Creates a key; the secrets are in the result only, never stored in the clear. */
    async create(input: { name: string; scopes: Scope[]; signing: boolean; ownerId?: string | undefined }, actor: string): Promise<{ record: ApiKeyRecord; secret: string; signingSecret?: string }> {
      const issued = issueKey();
      const signingSecret = input.signing ? issueSigningSecret() : undefined;
      const doc: ApiKeyDoc = {
        _id: issued.id, name: input.name, scopes: input.scopes, ownerId: input.ownerId ?? null, secretHash: crypto.hashSecret(issued.secret),
        signingSecretSealed: signingSecret ? crypto.sealSigningSecret(signingSecret) : null,
        createdAt: clock(), createdBy: actor, lastUsedAt: null, revokedAt: null, revokedBy: null,
      };
      await keys.create(doc);
      return { record: toRecord(doc), secret: issued.secret, ...(signingSecret ? { signingSecret } : {}) };
    },

    async get(id: string): Promise<ApiKeyRecord> {
      return toRecord(await current(id));
    },

    /** Newest first, by creation time; revoked keys included (their `revokedAt` is set). */
    async list(options: { limit: number; cursor?: string }): Promise<{ items: ApiKeyRecord[]; nextCursor: string | null }> {
      const docs = await keys.find(olderThan(options.cursor, 'createdAt')).sort({ createdAt: -1, _id: -1 }).limit(options.limit + 1).lean<ApiKeyDoc[]>();
      const page = pageOf(docs, options.limit, (doc) => ({ at: doc.createdAt, id: doc._id }));
      return { items: page.items.map(toRecord), nextCursor: page.nextCursor };
    },

    /** Revokes at once; revoking a revoked key again changes nothing. */
    async revoke(id: string, actor: string): Promise<ApiKeyRecord> {
      await keys.updateOne({ _id: id, revokedAt: null }, { $set: { revokedAt: clock(), revokedBy: actor } });
      return toRecord(await current(id));
    },
  };
}

export type ApiKeyStore = ReturnType<typeof createApiKeyStore>;
