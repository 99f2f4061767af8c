import { templatesUsedBy } from '../../tasks/registry';
import { randomBytes } from 'node:crypto';
import { Schema, type Connection } from 'mongoose';
import { olderThan, pageOf } from '../cursor';
import { DomainError } from '../errors';
import { driverCollection, isDuplicateKeyError, upsertRacing, modelOn } from '../store';
import type { TriggerSnapshot } from '../../workflows/types';
import { waitOutRoutingLease } from '../events/routing-cache';
import { createTriggerKeys, keyTaken, type HolderState } from './trigger-keys';
import type { NormalizedTrigger } from './validate';

/** A trigger as the API returns it: the current version's definition plus identity. */
export type TriggerRecord = NormalizedTrigger & { id: string; version: number; createdAt: Date; updatedAt: Date };

/**
 * Definitions are stored as JSON text: filters hold keys with dots and `$`
 * (`"data.reservation.id"`, `$in`), which FerretDB refuses as field names.
 */
interface TriggerDoc {
  _id: string;
  /** Kept beside the versions, not in them: a key names the trigger, not one of its definitions. */
  key?: string;
  version: number;
  enabled: boolean;
  deleted: boolean;
  /**
   * Top-level copy of on.types: FerretDB on SQLite indexes only top-level
   * fields. Empty for a scheduled trigger: its firings reach it alone
   * (engine/schedules), never through matching by type.
   */
  onTypes: string[];
  /** True when the current version has on.schedule (absent on triggers saved before schedules existed). */
  scheduled?: boolean;
  /** Templates the current version's email tasks use, so a template in use cannot be deleted. */
  templateNames: string[];
  definitionJson: string;
  createdAt: Date;
  updatedAt: Date;
}

interface VersionDoc {
  _id: string;
  triggerId: string;
  version: number;
  definitionJson: string;
  createdAt: Date;
  createdBy: string;
}

const triggerSchema = new Schema<TriggerDoc>(
  {
    _id: String,
    key: { type: String },
    version: { type: Number, required: true },
    enabled: { type: Boolean, required: true },
    deleted: { type: Boolean, required: true, default: false },
    onTypes: { type: [String], required: true, index: true },
    scheduled: { type: Boolean },
    templateNames: { type: [String], default: [], index: true },
    definitionJson: { type: String, required: true },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { collection: 'triggers', versionKey: false, minimize: false },
);

const versionSchema = new Schema<VersionDoc>(
  {
    _id: String,
    triggerId: { type: String, required: true },
    version: { type: Number, required: true },
    definitionJson: { type: String, required: true },
    createdAt: { type: Date, required: true },
    createdBy: { type: String, required: true },
  },
  { collection: 'trigger_versions', versionKey: false, minimize: false },
);
versionSchema.index({ triggerId: 1, version: 1 }, { unique: true });


/** The types a trigger is matched by, and whether it fires on a schedule instead. */
function listeningOf(definition: NormalizedTrigger): Pick<TriggerDoc, 'onTypes' | 'scheduled'> {
  return definition.on.schedule ? { onTypes: [], scheduled: true } : { onTypes: definition.on.types, scheduled: false };
}

function templateNamesOf(definition: NormalizedTrigger): string[] {
  return templatesUsedBy([...definition.tasks, ...(definition.onLateCancel?.tasks ?? [])]);
}

function parse(definitionJson: string): NormalizedTrigger {
  return JSON.parse(definitionJson) as NormalizedTrigger;
}

/** The definition as versions store it: without the key, which belongs to the trigger. */
function definitionJsonOf(definition: NormalizedTrigger): string {
  const { key: _key, ...versioned } = definition;
  return JSON.stringify(versioned);
}

function toRecord(doc: Pick<TriggerDoc, '_id' | 'key' | 'version' | 'definitionJson' | 'createdAt' | 'updatedAt' | 'enabled'>): TriggerRecord {
  return { ...(doc.key ? { key: doc.key } : {}), ...parse(doc.definitionJson), enabled: doc.enabled, id: doc._id, version: doc.version, createdAt: doc.createdAt, updatedAt: doc.updatedAt };
}

/** The immutable part of a version that a run carries. */
export function snapshotOf(record: Pick<TriggerRecord, 'id' | 'version' | 'name' | 'wait' | 'cancelOn' | 'tasks' | 'onLateCancel'>): TriggerSnapshot {
  return {
    id: record.id,
    version: record.version,
    name: record.name,
    wait: record.wait,
    ...(record.cancelOn ? { cancelOn: record.cancelOn } : {}),
    tasks: record.tasks,
    ...(record.onLateCancel ? { onLateCancel: record.onLateCancel } : {}),
  };
}

function notFound(id: string): DomainError {
  return new DomainError('trigger_not_found', 'not_found', `No trigger with id "${id}".`);
}

/**
 * Triggers and their immutable versions. The trigger document holds the
 * current version and is updated conditionally on the version it replaces,
 * so two concurrent edits cannot both win; every version is also kept in
 * trigger_versions, which runs and rollbacks read. A write that changes what
 * events are routed to (an enabled trigger created, any edit of one that is
 * or was enabled, a delete) answers only once every process's routing lease
 * on the old triggers has run out (engine/events/routing-cache.ts), so an
 * event sent after it answers, to any API replica, meets the new version.
 */
export function createTriggerStore(connection: Connection, clock: () => Date = () => new Date()) {
  const triggers = modelOn(connection, 'Trigger', triggerSchema);
  const versions = modelOn(connection, 'TriggerVersion', versionSchema);
  const keys = createTriggerKeys(connection, {
    async state(triggerId): Promise<HolderState> {
      const doc = await triggers.findOne({ _id: triggerId }, { deleted: 1 }).lean<Pick<TriggerDoc, 'deleted'>>();
      return !doc ? 'missing' : doc.deleted ? 'deleted' : 'live';
    },
    async settleMissing(triggerId) {
      const now = clock();
      const placeholder: TriggerDoc = { _id: triggerId, version: 0, enabled: false, deleted: true, onTypes: [], templateNames: [], definitionJson: 'null', createdAt: now, updatedAt: now };
      await driverCollection(triggers).insertOne(placeholder).catch((error: unknown) => {
        if (!isDuplicateKeyError(error)) throw error;
      });
    },
  });

  /** The key the next version keeps: the current one, or one a PUT adds; a key never changes. */
  async function nextKey(existing: TriggerDoc, wanted: string | undefined): Promise<string | undefined> {
    if (wanted === undefined || wanted === existing.key) return existing.key;
    if (existing.key !== undefined) {
      throw new DomainError('trigger_key_immutable', 'invalid', `The trigger's key is "${existing.key}"; a key cannot change.`, [{ path: 'key', message: `must stay "${existing.key}" (or be left out)` }]);
    }
    await keys.claim(wanted, existing._id);
    return wanted;
  }

  async function recordVersion(doc: TriggerDoc, actor: string): Promise<void> {
    await upsertRacing(() => versions.updateOne(
      { _id: `${doc._id}@${doc.version}` },
      { $setOnInsert: { triggerId: doc._id, version: doc.version, definitionJson: doc.definitionJson, createdAt: doc.updatedAt, createdBy: actor } },
      { upsert: true },
    ));
  }

  async function current(id: string): Promise<TriggerDoc> {
    const doc = await triggers.findOne({ _id: id, deleted: false }).lean<TriggerDoc>();
    if (!doc) throw notFound(id);
    return doc;
  }

  return {
    async ensureIndexes(): Promise<void> {
      await Promise.all([triggers.createIndexes(), versions.createIndexes(), keys.ensureIndexes()]);
    },

    /** Version 1. A key is claimed first; `trigger_key_taken` (409) when a live trigger holds it. */
    async create(definition: NormalizedTrigger, actor: string): Promise<TriggerRecord> {
      const now = clock();
      const doc: TriggerDoc = { _id: `trg_${randomBytes(8).toString('hex')}`, ...(definition.key ? { key: definition.key } : {}), version: 1, enabled: definition.enabled, deleted: false, ...listeningOf(definition), templateNames: templateNamesOf(definition), definitionJson: definitionJsonOf(definition), createdAt: now, updatedAt: now };
      if (doc.key) await keys.claim(doc.key, doc._id);
      try {
        await triggers.create(doc);
      } catch (error) {
        // A concurrent create of the same key judged our claim abandoned and settled it (see trigger-keys.ts).
        if (doc.key && isDuplicateKeyError(error)) throw keyTaken(doc.key, 'was claimed by another request at the same time');
        throw error;
      }
      await recordVersion(doc, actor);
      if (doc.enabled) await waitOutRoutingLease();
      return toRecord(doc);
    },

    /** Makes `definition` the next version; `expectedVersion` guards against lost edits. */
    async update(id: string, definition: NormalizedTrigger, actor: string, expectedVersion?: number): Promise<TriggerRecord> {
      const existing = await current(id);
      if (expectedVersion !== undefined && expectedVersion !== existing.version) {
        throw new DomainError('trigger_version_conflict', 'conflict', `The trigger is at version ${existing.version}, not ${expectedVersion}.`);
      }
      const key = await nextKey(existing, definition.key);
      const next = { ...(key ? { key } : {}), version: existing.version + 1, enabled: definition.enabled, ...listeningOf(definition), templateNames: templateNamesOf(definition), definitionJson: definitionJsonOf(definition), updatedAt: clock() };
      const updated = await triggers.findOneAndUpdate({ _id: id, version: existing.version, deleted: false }, { $set: next }, { returnDocument: 'after' }).lean<TriggerDoc>();
      if (!updated) throw new DomainError('trigger_version_conflict', 'conflict', 'The trigger was changed by another request; read it again and retry.');
      await recordVersion(updated, actor);
      // A version that listens, or replaces one that did: events must not be routed by the old one once this answers.
      if (existing.enabled || updated.enabled) await waitOutRoutingLease();
      return toRecord(updated);
    },

    async get(id: string): Promise<TriggerRecord> {
      return toRecord(await current(id));
    },

    async remove(id: string): Promise<void> {
      const result = await triggers.updateOne({ _id: id, deleted: false }, { $set: { deleted: true, enabled: false, updatedAt: clock() } });
      if (result.matchedCount === 0) throw notFound(id);
      await waitOutRoutingLease();
    },

    /** Newest first, by creation time; with `key`, the one live trigger holding it, if any. */
    async list(options: { limit: number; cursor?: string; enabled?: boolean; key?: string }): Promise<{ items: TriggerRecord[]; nextCursor: string | null }> {
      if (options.key !== undefined) {
        const holder = await keys.holder(options.key);
        const doc = holder ? await triggers.findOne({ _id: holder, deleted: false }).lean<TriggerDoc>() : null;
        const items = doc && (options.enabled === undefined || doc.enabled === options.enabled) ? [toRecord(doc)] : [];
        return { items, nextCursor: null };
      }
      const filter: Record<string, unknown> = { deleted: false, ...olderThan(options.cursor, 'createdAt') };
      if (options.enabled !== undefined) filter.enabled = options.enabled;
      const docs = await triggers.find(filter).sort({ createdAt: -1, _id: -1 }).limit(options.limit + 1).lean<TriggerDoc[]>();
      const page = pageOf(docs, options.limit, (doc) => ({ at: doc.createdAt, id: doc._id }));
      return { items: page.items.map(toRecord), nextCursor: page.nextCursor };
    },

    async versions(id: string): Promise<Array<{ version: number; createdAt: Date; createdBy: string; definition: NormalizedTrigger }>> {
      const doc = await current(id);
      await recordVersion(doc, 'repair'); // a crash between the two writes of an update leaves the newest version unrecorded
      const docs = await versions.find({ triggerId: id }).sort({ version: -1 }).lean<VersionDoc[]>();
      return docs.map((v) => ({ version: v.version, createdAt: v.createdAt, createdBy: v.createdBy, definition: parse(v.definitionJson) }));
    },

    async version(id: string, version: number): Promise<TriggerRecord & { createdBy: string }> {
      const doc = await current(id);
      const found = await versions.findOne({ triggerId: id, version }).lean<VersionDoc>();
      if (!found) throw new DomainError('trigger_version_not_found', 'not_found', `Trigger "${id}" has no version ${version}.`);
      return { ...toRecord({ _id: id, key: doc.key, version, definitionJson: found.definitionJson, enabled: parse(found.definitionJson).enabled, createdAt: doc.createdAt, updatedAt: found.createdAt }), createdBy: found.createdBy };
    },

    /** Enabled, non-deleted triggers listening to this event type. */
    async listeningTo(type: string): Promise<TriggerRecord[]> {
      const docs = await triggers.find({ onTypes: type, enabled: true, deleted: false }).lean<TriggerDoc[]>();
      return docs.map(toRecord);
    },

    /** Live triggers whose current version has on.schedule, enabled or not (what schedule reconciliation keeps in step). */
    async listScheduled(): Promise<TriggerRecord[]> {
      const docs = await triggers.find({ deleted: false, $or: [{ scheduled: true }, { onTypes: 'schedule.fired' }] }).lean<TriggerDoc[]>();
      return docs.map(toRecord).filter((record) => record.on.schedule !== undefined);
    },

    /** Ids of live triggers whose current version sends this template. */
    async usingTemplate(name: string): Promise<string[]> {
      const docs = await triggers.find({ templateNames: name, deleted: false }, { _id: 1 }).lean<Array<{ _id: string }>>();
      return docs.map((doc) => doc._id);
    },
  };
}

export type TriggerStore = ReturnType<typeof createTriggerStore>;
