import { Schema, type Connection } from 'mongoose';
import { DomainError } from '../errors';
import { driverCollection, isDuplicateKeyError, modelOn } from '../store';
import { compileFilter } from '../triggers/matcher';
import type { EventEnvelope, PackageSelection, PackageSnapshot } from '../../workflows/types';
import { minorDigitsOf, priceInWholeCredits } from './credit-rounding';
import { isKnownCurrency, packageProblems, type PackageDefinition } from './package-rules';

/** A package as the API returns it: its current version's definition plus identity. */
export type PackageRecord = PackageDefinition & { id: string; version: number; createdAt: Date; updatedAt: Date; createdBy: string };

/**
 * One immutable version. `_id` is `<packageId>@<version>`: two writers
 * racing for the same next version collide on the insert (duplicate key),
 * never on a read-modify-write. The match filter is JSON text, since its
 * keys hold dots and `$`, which FerretDB refuses as field names.
 */
interface VersionDoc {
  _id: string;
  packageId: string;
  version: number;
  definitionJson: string;
  createdAt: Date;
  createdBy: string;
}

/** Inserted once per package, so packages can be listed by id without reading every version. */
interface PackageDoc {
  _id: string;
  createdAt: Date;
}

const versionSchema = new Schema<VersionDoc>(
  {
    _id: String,
    packageId: { type: String, required: true },
    version: { type: Number, required: true },
    definitionJson: { type: String, required: true },
    createdAt: { type: Date, required: true },
    createdBy: { type: String, required: true },
  },
  { collection: 'package_versions', versionKey: false },
);
versionSchema.index({ packageId: 1, version: 1 }, { unique: true });

const packageSchema = new Schema<PackageDoc>({ _id: String, createdAt: { type: Date, required: true } }, { collection: 'packages', versionKey: false });

/** How many times a PUT re-reads and retries when another PUT took the version it meant to write. */
const MAX_PUT_ATTEMPTS = 5;

function notFound(id: string): DomainError {
  return new DomainError('package_not_found', 'not_found', `No package with id "${id}".`);
}

/** The definition in a canonical key order, so an identical PUT is recognised as one. */
function canonicalJson(definition: PackageDefinition): string {
  const { name, price, credits, match, active } = definition;
  return JSON.stringify({ name, price: { amount: price.amount, currency: price.currency }, credits: { amount: credits.amount, unit: credits.unit }, ...(match !== undefined ? { match } : {}), active });
}

function toRecord(doc: VersionDoc, createdAt: Date): PackageRecord {
  return { ...(JSON.parse(doc.definitionJson) as PackageDefinition), id: doc.packageId, version: doc.version, createdAt, updatedAt: doc.createdAt, createdBy: doc.createdBy };
}

/** The part of a version a run carries. */
export function packageSnapshotOf(record: PackageRecord): PackageSnapshot {
  return { id: record.id, version: record.version, name: record.name, price: record.price, credits: record.credits };
}

/**
 * Credit packages and their immutable versions (contract: api-v1.md,
 * "Packages and subscriptions"). The newest version of a package is its
 * current one; every version stays readable for the runs that credited it.
 */
export function createPackageStore(connection: Connection, clock: () => Date = () => new Date()) {
  const versions = modelOn(connection, 'PackageVersion', versionSchema);
  const packages = modelOn(connection, 'Package', packageSchema);

  async function latest(packageId: string): Promise<VersionDoc | null> {
    return versions.findOne({ packageId }).sort({ version: -1 }).lean<VersionDoc>();
  }

  async function createdAtOf(packageId: string, fallback: Date): Promise<Date> {
    const doc = await packages.findById(packageId).lean<PackageDoc>();
    return doc?.createdAt ?? fallback;
  }

  /** The current version of every package with one, by id (a catalog is small: admins define tens of packages, not thousands). */
  async function currentVersions(ids?: string[]): Promise<VersionDoc[]> {
    const docs = await versions.find(ids ? { packageId: { $in: ids } } : {}).lean<VersionDoc[]>();
    const newest = new Map<string, VersionDoc>();
    for (const doc of docs) {
      const known = newest.get(doc.packageId);
      if (!known || known.version < doc.version) newest.set(doc.packageId, doc);
    }
    return [...newest.values()].sort((a, b) => (a.packageId < b.packageId ? -1 : 1));
  }

  return {
    async ensureIndexes(): Promise<void> {
      await Promise.all([versions.createIndexes(), packages.createIndexes()]);
    },

    /**
     * Makes `definition` the package's next version (version 1 creates it).
     * The same definition as the current version writes nothing. Two PUTs
     * racing for one version: the loser re-reads and becomes the next.
     */
    async put(packageId: string, definition: PackageDefinition, actor: string): Promise<{ record: PackageRecord; created: boolean; changed: boolean }> {
      const problems = packageProblems(definition);
      if (problems.length > 0) {
        const errors = problems.map(({ path, message }) => ({ path, message }));
        throw new DomainError(problems[0]!.code, 'invalid', `The package breaks a rule: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}.`, errors);
      }
      const definitionJson = canonicalJson(definition);
      for (let attempt = 0; attempt < MAX_PUT_ATTEMPTS; attempt += 1) {
        const current = await latest(packageId);
        const now = clock();
        if (current && current.definitionJson === definitionJson) {
          return { record: toRecord(current, await createdAtOf(packageId, current.createdAt)), created: false, changed: false };
        }
        const doc: VersionDoc = { _id: `${packageId}@${(current?.version ?? 0) + 1}`, packageId, version: (current?.version ?? 0) + 1, definitionJson, createdAt: now, createdBy: actor };
        try {
          await driverCollection(versions).insertOne(doc);
        } catch (error) {
          if (isDuplicateKeyError(error)) continue;
          throw error;
        }
        await driverCollection(packages).insertOne({ _id: packageId, createdAt: now }).catch((error: unknown) => {
          if (!isDuplicateKeyError(error)) throw error;
        });
        return { record: toRecord(doc, await createdAtOf(packageId, now)), created: current === null, changed: true };
      }
      throw new DomainError('package_version_conflict', 'conflict', `Package "${packageId}" is being changed by other requests; read it again and retry.`);
    },

    async get(packageId: string): Promise<PackageRecord> {
      const current = await latest(packageId);
      if (!current) throw notFound(packageId);
      return toRecord(current, await createdAtOf(packageId, current.createdAt));
    },

    /** Every version, newest first. */
    async versions(packageId: string): Promise<PackageRecord[]> {
      const docs = await versions.find({ packageId }).sort({ version: -1 }).lean<VersionDoc[]>();
      if (docs.length === 0) throw notFound(packageId);
      const createdAt = await createdAtOf(packageId, docs.at(-1)!.createdAt);
      return docs.map((doc) => toRecord(doc, createdAt));
    },

    /** One page of packages by id, each at its current version. */
    async list(page: { limit: number; cursor?: string; active?: boolean }): Promise<{ items: PackageRecord[]; nextCursor: string | null }> {
      const heads = await packages.find(page.cursor ? { _id: { $gt: page.cursor } } : {}).sort({ _id: 1 }).limit(page.limit + 1).lean<PackageDoc[]>();
      const pageHeads = heads.slice(0, page.limit);
      const createdAt = new Map(pageHeads.map((head) => [head._id, head.createdAt]));
      const current = await currentVersions(pageHeads.map((head) => head._id));
      const items = current.map((doc) => toRecord(doc, createdAt.get(doc.packageId)!)).filter((record) => page.active === undefined || record.active === page.active);
      return { items, nextCursor: heads.length > page.limit ? (pageHeads.at(-1)?._id ?? null) : null };
    },

    /** Current versions of every package, for a reprice. */
    async all(): Promise<PackageRecord[]> {
      return (await currentVersions()).map((doc) => toRecord(doc, doc.createdAt));
    },

    /**
     * The one active package whose `match` fits the event, read now: the
     * run carries this snapshot, so a later edit does not change what it
     * credits. A filter that throws on this event counts as no match.
     */
    async selectFor(event: EventEnvelope): Promise<PackageSelection> {
      const active = (await currentVersions()).map((doc) => toRecord(doc, doc.createdAt)).filter((record) => record.active);
      const matching = active.filter((record) => {
        try {
          return compileFilter(record.match)(event);
        } catch {
          return false;
        }
      });
      if (matching.length === 0) return { status: 'none' };
      if (matching.length > 1) return { status: 'ambiguous', candidates: matching.map((record) => ({ id: record.id, version: record.version })) };
      return { status: 'matched', ...packageSnapshotOf(matching[0]!) };
    },
  };
}

export type PackageStore = ReturnType<typeof createPackageStore>;

/** One package a currency switch gave a new version. */
export interface RepricedPackage {
  id: string;
  fromVersion: number;
  version: number;
  before: { amount: number; currency: string };
  after: { amount: number; currency: string };
}

/**
 * The currency switch (seed 003): every package not yet priced in `unit`
 * gets a new version whose price is its old one converted at `rate` (units
 * of `unit` per major unit of the old currency, a decimal string) and
 * rounded to whole units of `unit` (credit-rounding.ts: below 1 becomes 1,
 * otherwise half up; 0 stays 0). Packages already in `unit` are left as they
 * are, so running it again changes nothing.
 */
export async function repricePackages(store: PackageStore, unit: string, rate: string, actor: string): Promise<{ repriced: RepricedPackage[]; unchanged: string[] }> {
  if (!isKnownCurrency(unit)) throw new DomainError('currency_unknown', 'invalid', `"${unit}" is no ISO 4217 currency this server knows (or CREDIT).`, [{ path: 'unit', message: 'must be an ISO 4217 currency this server knows, or CREDIT' }]);
  const repriced: RepricedPackage[] = [];
  const unchanged: string[] = [];
  const scale = 10 ** minorDigitsOf(unit);
  for (const record of await store.all()) {
    if (record.price.currency === unit) {
      unchanged.push(record.id);
      continue;
    }
    const after = { amount: priceInWholeCredits(record.price.amount, record.price.currency, rate) * scale, currency: unit };
    const { id: _id, version: _version, createdAt: _createdAt, updatedAt: _updatedAt, createdBy: _createdBy, ...definition } = record;
    const saved = await store.put(record.id, { ...definition, price: after }, actor);
    repriced.push({ id: record.id, fromVersion: record.version, version: saved.record.version, before: record.price, after: saved.record.price });
  }
  return { repriced, unchanged };
}
