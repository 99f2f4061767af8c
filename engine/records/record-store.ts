/**
 * Records of objects that live in another system (bills, invoices): one
 * mechanism, owned here end to end, for versioned upserts that never lose
 * the newer version (contract: api-v1.md, "Records of external objects").
 *
 * Versions are insert-only slots: `record_versions` holds one document per
 * accepted version, `_id` `<kind>/<slot>/<id>` with slot 1, 2, 3, ... A
 * writer reads the last slot, and inserts the next one only when its version
 * is higher than the last slot's; the duplicate key on that slot is the
 * conflict signal: the writer reads the winner and tries again after it, or
 * finds its own version stale. So slot versions only ever increase, and the
 * last slot is the record, on FerretDB 1.x (where an update is a read, then
 * a whole-document write) as on MongoDB.
 *
 * `records` (`_id` `<kind>/<id>`) is a copy of the last slot for lists and
 * sweeps. It is written after the slot by a conditional update that may
 * lose a race on FerretDB, so it is a hint: every read follows the slots on
 * from it (one `_id` read when it is current) and repairs it when behind.
 */
import type { RecordContext } from '../../workflows/types';
import { Schema, type Connection } from 'mongoose';
import { DomainError } from '../errors';
import { MAX_AMOUNT, UNIT_PATTERN } from '../ledger/limits';
import { driverCollection, isDuplicateKeyError, modelOn } from '../store';

/** A record kind: lowercase, e.g. `bill`. It never holds `/`, so `<kind>/<id>` names one record. */
export const RECORD_KIND_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;
/** A record id as the other system names it, e.g. `B-1001`. */
export const RECORD_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$/;
/** A state as the other system names it, e.g. `unsettled`, `partially_settled`. */
export const RECORD_STATE_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
/** Versions are the other system's: a revision counter or a millisecond timestamp, 0 to 2^53-1. */
export const MAX_RECORD_VERSION = Number.MAX_SAFE_INTEGER;
/** Attributes as JSON text, at most 16 KB. */
export const MAX_RECORD_ATTRIBUTES_BYTES = 16_384;
/** Slots a writer may pass over in one put: more means something is very wrong with the writers. */
const MAX_SLOT_ATTEMPTS = 1_000;

/** What a PUT (or a `record` task) gives for one record. */
export interface RecordInput {
  ownerId?: string | undefined;
  state: string;
  /** Minor units of `unit`. */
  amount?: number | undefined;
  unit?: string | undefined;
  attributes?: Record<string, unknown> | undefined;
  version: number;
}

/** A record as readers, filters and runs (`record`) see it: the run context's shape (workflows/types.ts). */
export type ExternalRecord = RecordContext;

/** What a put did: `stale` when the stored version was higher and nothing changed. */
export interface PutOutcome {
  record: ExternalRecord;
  created: boolean;
  stale: boolean;
}

interface SlotDoc {
  _id: string;
  kind: string;
  recordId: string;
  slot: number;
  version: number;
  ownerId: string | null;
  state: string;
  amount: number | null;
  unit: string | null;
  attributesJson: string;
  updatedAt: Date;
}

const slotFields = {
  _id: String,
  kind: { type: String, required: true },
  recordId: { type: String, required: true },
  slot: { type: Number, required: true },
  version: { type: Number, required: true },
  ownerId: { type: String, default: null },
  state: { type: String, required: true },
  amount: { type: Number, default: null },
  unit: { type: String, default: null },
  attributesJson: { type: String, required: true },
  updatedAt: { type: Date, required: true },
};

const slotSchema = new Schema<SlotDoc>(slotFields, { collection: 'record_versions', versionKey: false });
const headSchema = new Schema<SlotDoc>(slotFields, { collection: 'records', versionKey: false });

function headIdOf(kind: string, id: string): string {
  return `${kind}/${id}`;
}

function slotIdOf(kind: string, id: string, slot: number): string {
  return `${kind}/${slot}/${id}`;
}

export function viewOf(doc: SlotDoc): ExternalRecord {
  return {
    kind: doc.kind, id: doc.recordId, ownerId: doc.ownerId ?? null, state: doc.state, amount: doc.amount ?? null, unit: doc.unit ?? null,
    attributes: JSON.parse(doc.attributesJson) as Record<string, unknown>, version: doc.version, updatedAt: doc.updatedAt.toISOString(),
  };
}

function invalid(code: string, path: string, message: string): DomainError {
  return new DomainError(code, 'invalid', `${path} ${message}.`, [{ path, message }]);
}

/** Refuses a record no reader could use, before anything is read or written; every problem names its field. */
export function assertRecord(kind: string, id: string, input: RecordInput): void {
  if (!RECORD_KIND_PATTERN.test(kind)) throw invalid('record_kind_invalid', 'kind', 'must be lowercase letters, digits, _ and - (1-64), starting with a letter');
  if (!RECORD_ID_PATTERN.test(id)) throw invalid('record_id_invalid', 'id', 'must be letters, digits, ., _, :, @ and - (1-200), starting with a letter or digit');
  if (typeof input.version !== 'number' || !Number.isSafeInteger(input.version) || input.version < 0) throw invalid('record_version_invalid', 'version', `must be an integer from 0 to ${MAX_RECORD_VERSION}`);
  if (typeof input.state !== 'string' || !RECORD_STATE_PATTERN.test(input.state)) throw invalid('record_state_invalid', 'state', 'must be letters, digits, _ and - (1-64), starting with a letter');
  if (input.amount !== undefined && (!Number.isSafeInteger(input.amount) || Math.abs(input.amount) > MAX_AMOUNT)) throw invalid('amount_invalid', 'amount', `must be an integer in minor units, at most ${MAX_AMOUNT} either way`);
  if (input.amount !== undefined && input.unit === undefined) throw invalid('unit_required', 'unit', 'is required with amount');
  if (input.unit !== undefined && !UNIT_PATTERN.test(input.unit)) throw invalid('unit_invalid', 'unit', 'must be an ISO 4217 code (e.g. USD) or CREDIT');
  if (input.ownerId !== undefined && (input.ownerId.length === 0 || input.ownerId.length > 200)) throw invalid('owner_id_invalid', 'ownerId', 'must be 1-200 characters');
  if (input.attributes !== undefined && Buffer.byteLength(JSON.stringify(input.attributes), 'utf8') > MAX_RECORD_ATTRIBUTES_BYTES) throw invalid('record_attributes_too_large', 'attributes', `must be at most ${MAX_RECORD_ATTRIBUTES_BYTES} bytes as JSON`);
}

function sameContent(doc: SlotDoc, next: Omit<SlotDoc, '_id' | 'slot' | 'updatedAt'>): boolean {
  return doc.ownerId === next.ownerId && doc.state === next.state && doc.amount === next.amount && doc.unit === next.unit && doc.attributesJson === next.attributesJson;
}

export function createRecordStore(connection: Connection, clock: () => Date = () => new Date()) {
  const Slot = modelOn(connection, 'RecordVersion', slotSchema);
  const Head = modelOn(connection, 'Record', headSchema);
  const slots = driverCollection(Slot);
  const heads = driverCollection(Head);

  /** The last slot at or after `from` (a slot known to exist), following the slots by `_id` reads. */
  async function followSlots(from: SlotDoc): Promise<SlotDoc> {
    let last = from;
    for (;;) {
      const next = await slots.findOne({ _id: slotIdOf(last.kind, last.recordId, last.slot + 1) });
      if (!next) return last;
      last = next;
    }
  }

  /** Brings the head up to `doc`'s slot; an older head is overwritten, a newer one kept. */
  async function advanceHead(doc: SlotDoc): Promise<void> {
    const head = { ...doc, _id: headIdOf(doc.kind, doc.recordId) };
    try {
      await heads.insertOne(head);
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
      const { _id: _ignored, ...fields } = head;
      await heads.updateOne({ _id: head._id, slot: { $lt: doc.slot } }, { $set: fields });
    }
  }

  /** The record's last slot, from its head on; the head is repaired when it was behind. */
  async function latest(kind: string, id: string): Promise<SlotDoc | null> {
    const head = await heads.findOne({ _id: headIdOf(kind, id) });
    const start = head ?? (await slots.findOne({ _id: slotIdOf(kind, id, 1) }));
    if (!start) return null;
    return refreshed(start, head !== null);
  }

  async function refreshed(start: SlotDoc, fromHead: boolean): Promise<SlotDoc> {
    const last = await followSlots(start);
    if (!fromHead || last.slot !== start.slot) await advanceHead(last);
    return last;
  }

  return {
    async ensureIndexes(): Promise<void> {
      for (const model of [Slot, Head]) {
        await model.createCollection().catch((error: unknown) => {
          if ((error as { code?: unknown }).code !== 48) throw error;
        });
      }
    },

    /**
     * Stores a version of a record. A version below the stored one changes
     * nothing (`stale: true`); the same version again with the same content
     * is a replay; the same version with other content is 409
     * `record_version_conflict`.
     */
    async put(kind: string, id: string, input: RecordInput): Promise<PutOutcome> {
      assertRecord(kind, id, input);
      const content = {
        kind, recordId: id, version: input.version, ownerId: input.ownerId ?? null, state: input.state, amount: input.amount ?? null, unit: input.unit ?? null,
        attributesJson: JSON.stringify(input.attributes ?? {}),
      };
      let last = await latest(kind, id);
      const created = last === null;
      for (let attempt = 0; attempt < MAX_SLOT_ATTEMPTS; attempt += 1) {
        if (last && last.version > input.version) return { record: viewOf(last), created: false, stale: true };
        if (last && last.version === input.version) {
          if (sameContent(last, content)) return { record: viewOf(last), created: false, stale: false };
          throw new DomainError('record_version_conflict', 'conflict', `Record ${kind}/${id} already has version ${input.version} with other content; send a higher version.`, [{ path: 'version', message: `version ${input.version} is stored with other content` }]);
        }
        const slot = (last?.slot ?? 0) + 1;
        const doc: SlotDoc = { _id: slotIdOf(kind, id, slot), slot, updatedAt: clock(), ...content };
        try {
          await slots.insertOne(doc);
        } catch (error) {
          if (!isDuplicateKeyError(error)) throw error;
          // Another writer took this slot: compare with the record as it now stands.
          last = await followSlots((await slots.findOne({ _id: doc._id }))!);
          continue;
        }
        await advanceHead(doc);
        return { record: viewOf(doc), created: created && slot === 1, stale: false };
      }
      throw new Error(`record ${kind}/${id}: no free slot after ${MAX_SLOT_ATTEMPTS} attempts`);
    },

    async get(kind: string, id: string): Promise<ExternalRecord> {
      const doc = RECORD_KIND_PATTERN.test(kind) && RECORD_ID_PATTERN.test(id) ? await latest(kind, id) : null;
      if (!doc) throw new DomainError('record_not_found', 'not_found', `No record ${kind}/${id}.`);
      return viewOf(doc);
    },

    /** True when some record of the kind exists (a sweep's kind that none has is likely a typo). */
    async hasKind(kind: string): Promise<boolean> {
      return (await heads.findOne({ kind }, { projection: { _id: 1 } })) !== null;
    },

    /** The record, or null. */
    async find(kind: string, id: string): Promise<ExternalRecord | null> {
      const doc = await latest(kind, id);
      return doc ? viewOf(doc) : null;
    },

    /**
     * Records of a kind (or all kinds) in `_id` order, `batchSize` heads at a
     * time, each brought up to its last slot; `afterId` (a head id, as
     * `position` gives) resumes after that record.
     */
    async *batches(options: { kind?: string | undefined; batchSize: number; afterId?: string | undefined }): AsyncGenerator<Array<{ position: string; record: ExternalRecord }>> {
      let after = options.afterId;
      for (;;) {
        const query: Record<string, unknown> = {};
        if (options.kind !== undefined) query.kind = options.kind;
        if (after !== undefined) query._id = { $gt: after };
        const docs = await Head.find(query).sort({ _id: 1 }).limit(options.batchSize).lean<SlotDoc[]>();
        if (docs.length === 0) return;
        const records = await Promise.all(docs.map(async (doc) => ({ position: doc._id, record: viewOf(await refreshed(doc, true)) })));
        yield records;
        if (docs.length < options.batchSize) return;
        after = docs.at(-1)!._id;
      }
    },
  };
}

export type RecordStore = ReturnType<typeof createRecordStore>;
