import { Schema, type Connection, type Model } from 'mongoose';
import { DomainError } from '../errors';
import { driverCollection, isDuplicateKeyError, modelOn } from '../store';

/**
 * How many times one key may pass from a deleted trigger to a new one. Every
 * claim reads the chain from its start, one `_id` read per link, so the bound
 * keeps a claim to a bounded number of reads.
 */
export const MAX_KEY_GENERATIONS = 1_000;

/** Where a trigger named by a claim stands. */
export type HolderState = 'live' | 'deleted' | 'missing';

/** What the key claims need from the trigger store. */
export interface KeyHolders {
  state(triggerId: string): Promise<HolderState>;
  /**
   * Writes a deleted placeholder under this id, unless a trigger document is
   * already there: a create that claimed a key and has not written its
   * trigger yet then fails its own insert, so only one of the two wins.
   */
  settleMissing(triggerId: string): Promise<void>;
}

interface ClaimDoc {
  /** `<key>#<generation>`. */
  _id: string;
  key: string;
  generation: number;
  triggerId: string;
  claimedAt: Date;
}

const claimSchema = new Schema<ClaimDoc>(
  {
    _id: String,
    key: { type: String, required: true },
    generation: { type: Number, required: true },
    triggerId: { type: String, required: true },
    claimedAt: { type: Date, required: true },
  },
  { collection: 'trigger_keys', versionKey: false },
);

function claimModel(connection: Connection): Model<ClaimDoc> {
  return modelOn<ClaimDoc>(connection, 'TriggerKey', claimSchema);
}

export function keyTaken(key: string, detail: string): DomainError {
  return new DomainError('trigger_key_taken', 'conflict', `The key "${key}" ${detail}.`, [{ path: 'key', message: `"${key}" ${detail}` }]);
}

/**
 * Owns trigger key uniqueness, end to end. FerretDB indexes only `_id` and
 * runs an update as read-then-write, so neither a unique index on a `key`
 * field nor a conditional update can decide between two concurrent creates;
 * an insert with a deterministic `_id` can. A key's history is a chain of
 * claim documents `<key>#0`, `<key>#1`, ...: the last one names the holder.
 * A claim passes on only once its holder is deleted (deleting a trigger thus
 * frees its key): the next creator inserts the next link, and of two racing
 * creators the store lets exactly one insert win. A claim whose trigger
 * document does not exist yet (its create is in flight, or crashed before
 * writing it) is settled through `KeyHolders.settleMissing`.
 */
export function createTriggerKeys(connection: Connection, holders: KeyHolders) {
  const claims = claimModel(connection);
  const link = (key: string, generation: number) => claims.findOne({ _id: `${key}#${generation}` }).lean<ClaimDoc>();

  return {
    async ensureIndexes(): Promise<void> {
      await claims.createIndexes();
    },

    /** Makes `triggerId` the holder of `key`, or throws `trigger_key_taken` (409) naming the live holder. */
    async claim(key: string, triggerId: string): Promise<void> {
      for (let generation = 0; generation < MAX_KEY_GENERATIONS;) {
        const found = await link(key, generation);
        if (!found) {
          try {
            await driverCollection(claims).insertOne({ _id: `${key}#${generation}`, key, generation, triggerId, claimedAt: new Date() });
            return;
          } catch (error) {
            if (!isDuplicateKeyError(error)) throw error;
            continue; // another creator took this link first: judge its holder like any other
          }
        }
        if (found.triggerId === triggerId) return;
        const state = await holders.state(found.triggerId);
        if (state === 'live') throw keyTaken(key, `is already used by trigger ${found.triggerId}`);
        if (state === 'missing') await holders.settleMissing(found.triggerId);
        else generation += 1;
      }
      throw keyTaken(key, `has been reused ${MAX_KEY_GENERATIONS} times, the most a key may be; choose another key`);
    },

    /** The live trigger holding `key`, or null. */
    async holder(key: string): Promise<string | null> {
      let last: ClaimDoc | null = null;
      for (let generation = 0; generation < MAX_KEY_GENERATIONS; generation += 1) {
        const found = await link(key, generation);
        if (!found) break;
        last = found;
      }
      if (!last) return null;
      return (await holders.state(last.triggerId)) === 'live' ? last.triggerId : null;
    },
  };
}

export type TriggerKeys = ReturnType<typeof createTriggerKeys>;
