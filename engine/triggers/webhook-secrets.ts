import { randomBytes } from 'node:crypto';
import { Schema, type Connection } from 'mongoose';
import { DomainError } from '../errors';
import { RoutingCache, waitOutRoutingLease } from '../events/routing-cache';
import { secretSeal } from '../secret-seal';
import { driverCollection, isDuplicateKeyError, modelOn } from '../store';

// Each trigger's webhook secret: the HMAC key its webhook tasks sign with
// (Creditflow-Signature). This module owns it end to end: issuing one when a
// trigger is created, rotating it, and reading the current one for the
// worker. Secrets are stored sealed (engine/secret-seal.ts) and only ever
// inserted: generation n of a trigger's secret is the document
// `<triggerId>:<n>`, and the highest n is current. FerretDB runs updates as
// read-then-write, so an insert with a deterministic `_id` is what makes two
// rotations at once safe: one wins, the other is refused.

const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 32;
const SEAL_PURPOSE = 'webhook secret seal';

interface WebhookSecretDoc {
  /** `<triggerId>:<generation>`. */
  _id: string;
  triggerId: string;
  /** 1 for the secret issued on create, +1 per rotation. */
  generation: number;
  /** AES-256-GCM sealed secret. */
  sealed: string;
  createdAt: Date;
  createdBy: string;
}

const webhookSecretSchema = new Schema<WebhookSecretDoc>(
  {
    _id: String,
    triggerId: { type: String, required: true },
    generation: { type: Number, required: true },
    sealed: { type: String, required: true },
    createdAt: { type: Date, required: true },
    createdBy: { type: String, required: true },
  },
  { collection: 'trigger_webhook_secrets', versionKey: false, minimize: false },
);
webhookSecretSchema.index({ triggerId: 1, generation: 1 }, { unique: true });

/** A new secret: `whsec_` and 32 random bytes as base64url; used as the HMAC key exactly as written. */
export function issueWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(SECRET_BYTES).toString('base64url')}`;
}

export interface WebhookSecretsDependencies {
  connection: Connection;
  /** API_KEY_PEPPER, else ADMIN_API_KEY (engine/secret-seal.ts pepperOf): the API and the worker must agree. */
  pepper: string;
  clock?: () => Date;
}

export function createWebhookSecrets(deps: WebhookSecretsDependencies) {
  const clock = deps.clock ?? (() => new Date());
  const secrets = modelOn<WebhookSecretDoc>(deps.connection, 'TriggerWebhookSecret', webhookSecretSchema);
  const seal = secretSeal(deps.pepper, SEAL_PURPOSE);

  async function newest(triggerId: string): Promise<WebhookSecretDoc | null> {
    return secrets.findOne({ triggerId }).sort({ generation: -1 }).lean<WebhookSecretDoc>();
  }

  /** Inserts the next generation; a concurrent rotation that inserted it first is a conflict. */
  async function insertNext(triggerId: string, actor: string): Promise<string> {
    const generation = ((await newest(triggerId))?.generation ?? 0) + 1;
    const secret = issueWebhookSecret();
    const doc: WebhookSecretDoc = { _id: `${triggerId}:${generation}`, triggerId, generation, sealed: seal.seal(secret), createdAt: clock(), createdBy: actor };
    try {
      await driverCollection(secrets).insertOne(doc);
    } catch (error) {
      if (isDuplicateKeyError(error)) throw new DomainError('webhook_secret_conflict', 'conflict', 'The webhook secret was rotated by another request at the same time; rotate again if you need a secret you hold.');
      throw error;
    }
    return secret;
  }

  // Each trigger's current secret is read at most once per lease per process, with the lease and the rule
  // of routing (routing-cache.ts): a rotation answers only once that lease has run out everywhere, so every
  // webhook sent after a rotation's answer is signed with the new secret, in every process. (The read is a
  // filtered, sorted query, a scan of the secrets on FerretDB; it was one per webhook sent.)
  const newestOf = new RoutingCache(async (triggerId) => ({ doc: await newest(triggerId) }));

  return {
    async ensureIndexes(): Promise<void> {
      await secrets.createIndexes();
    },

    /** The first secret of a new trigger; shown to the creator once. */
    issue: (triggerId: string, actor: string): Promise<string> => insertNext(triggerId, actor),

    /**
     * A new secret that replaces the current one for every webhook sent from
     * now on: it answers once no process, this one included, can still sign
     * with the old one (ROUTING_LEASE_MS and its margin after the insert).
     */
    async rotate(triggerId: string, actor: string): Promise<string> {
      const secret = await insertNext(triggerId, actor);
      await waitOutRoutingLease();
      return secret;
    },

    /**
     * The current secret in the clear, or undefined for a trigger created
     * before triggers had one; `webhook_secret_unreadable` (final) when the
     * pepper changed since it was sealed.
     */
    async current(triggerId: string): Promise<string | undefined> {
      // "None yet" is never taken from the lease: a trigger's first secret is issued without waiting.
      const doc = (await newestOf.get(triggerId)).doc ?? (await newest(triggerId));
      if (!doc) return undefined;
      try {
        return seal.open(doc.sealed);
      } catch {
        throw new DomainError('webhook_secret_unreadable', 'invalid', `Trigger ${triggerId}'s webhook secret was sealed under another API_KEY_PEPPER (or ADMIN_API_KEY while it is unset) than this process has; rotate it with POST /v1/triggers/${triggerId}/webhook-secret/rotate.`);
      }
    },
  };
}

export type WebhookSecrets = ReturnType<typeof createWebhookSecrets>;
