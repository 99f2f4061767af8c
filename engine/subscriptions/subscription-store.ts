/**
 * Subscriptions and their renewals (contract: api-v1.md, "Packages and
 * subscriptions"). This module owns renewal end to end.
 *
 * A renewal never rewrites the subscription. It is two idempotent steps:
 * the debit, under the ledger key `renew:<subscriptionId>:<periodEnd>`, then
 * the insert of a renewal record whose `_id` is `<subscriptionId>@<periodEnd>`
 * and which holds the next period end. The current period end is the one
 * the admin last wrote, followed along the renewal records. A crash between
 * the two steps leaves a debit without a record: the subscription still
 * shows the old end, so the next attempt renews the same period, the ledger
 * replays the same entry (no second debit), and the record is inserted. So
 * the debit and the extension can be apart for the length of a crash, never
 * disagree after it. A concurrent second renewal of the same period
 * collides on the same key and the same `_id`.
 */
import { Schema, type Connection } from 'mongoose';
import { DomainError, isDomainError } from '../errors';
import type { Ledger } from '../ledger';
import { driverCollection, isDuplicateKeyError, modelOn } from '../store';
import { nextPeriodEnd, renewalKey, subscriptionProblems, type SubscriptionDefinition } from './subscription-rules';

export type Subscription = SubscriptionDefinition & { id: string; createdAt: Date; updatedAt: Date };

interface SubscriptionDoc {
  _id: string;
  ownerId: string;
  plan: SubscriptionDefinition['plan'];
  currentPeriodEnd: Date;
  autoRenew: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** One outcome of renewing one period: renewed (once per period), or refused (the first refusal of each period). */
export interface RenewalRecord {
  _id: string;
  subscriptionId: string;
  periodEnd: Date;
  outcome: 'renewed' | 'refused';
  newPeriodEnd?: Date;
  entryId?: string;
  amount: number;
  unit: string;
  /** The ledger's code for a refusal: insufficient_funds, negative_too_long, account_not_found. */
  code?: string;
  at: Date;
}

export type RenewalOutcome =
  | { outcome: 'renewed'; periodEnd: Date; newPeriodEnd: Date; entryId: string; replayed: boolean }
  | { outcome: 'refused'; periodEnd: Date; code: string; message: string; firstThisPeriod: boolean }
  | { outcome: 'not_due'; periodEnd: Date }
  | { outcome: 'auto_renew_off'; periodEnd: Date };

const subscriptionSchema = new Schema<SubscriptionDoc>(
  {
    _id: String,
    ownerId: { type: String, required: true },
    plan: { type: Schema.Types.Mixed, required: true },
    currentPeriodEnd: { type: Date, required: true },
    autoRenew: { type: Boolean, required: true },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { collection: 'subscriptions', versionKey: false, minimize: false },
);

const renewalSchema = new Schema<RenewalRecord>(
  {
    _id: String,
    subscriptionId: { type: String, required: true },
    periodEnd: { type: Date, required: true },
    outcome: { type: String, required: true },
    newPeriodEnd: Date,
    entryId: String,
    amount: { type: Number, required: true },
    unit: { type: String, required: true },
    code: String,
    at: { type: Date, required: true },
  },
  { collection: 'subscription_renewals', versionKey: false },
);

/** Ledger refusals that leave a subscription unrenewed (and its owner told); anything else is retried by the caller. */
const REFUSALS = new Set(['insufficient_funds', 'negative_too_long', 'account_not_found']);

/** How many renewals GET follows from the period end an admin wrote (3,660 one-day periods is ten years). */
const MAX_RENEWALS_FOLLOWED = 10_000;

function notFound(id: string): DomainError {
  return new DomainError('subscription_not_found', 'not_found', `No subscription with id "${id}".`);
}

function renewedId(subscriptionId: string, periodEnd: Date): string {
  return `${subscriptionId}@${periodEnd.toISOString()}`;
}

export interface SubscriptionDependencies {
  connection: Connection;
  ledger: Pick<Ledger, 'post'>;
  /** True when the owner has a customer profile: a subscription for an unknown owner is refused. Needed by `put` only (a worker that only renews goes without). */
  ownerKnown?: (ownerId: string) => Promise<boolean>;
  clock?: () => Date;
}

export function createSubscriptionStore(deps: SubscriptionDependencies) {
  const subscriptions = modelOn(deps.connection, 'Subscription', subscriptionSchema);
  const renewals = modelOn(deps.connection, 'SubscriptionRenewal', renewalSchema);
  const clock = deps.clock ?? (() => new Date());

  /** The period end now: the one written, moved on by each renewal record in turn. */
  async function currentPeriodEnd(doc: SubscriptionDoc): Promise<Date> {
    let end = doc.currentPeriodEnd;
    for (let followed = 0; followed < MAX_RENEWALS_FOLLOWED; followed += 1) {
      const renewed = await renewals.findById(renewedId(doc._id, end)).lean<RenewalRecord>();
      if (!renewed?.newPeriodEnd) return end;
      end = renewed.newPeriodEnd;
    }
    return end;
  }

  async function view(doc: SubscriptionDoc): Promise<Subscription> {
    return { id: doc._id, ownerId: doc.ownerId, plan: doc.plan, currentPeriodEnd: await currentPeriodEnd(doc), autoRenew: doc.autoRenew, createdAt: doc.createdAt, updatedAt: doc.updatedAt };
  }

  async function load(id: string): Promise<SubscriptionDoc> {
    const doc = await subscriptions.findById(id).lean<SubscriptionDoc>();
    if (!doc) throw notFound(id);
    return doc;
  }

  async function insertOnce(record: RenewalRecord): Promise<boolean> {
    try {
      await driverCollection(renewals).insertOne(record);
      return true;
    } catch (error) {
      if (isDuplicateKeyError(error)) return false;
      throw error;
    }
  }

  return {
    async ensureIndexes(): Promise<void> {
      await Promise.all([subscriptions.createIndexes(), renewals.createIndexes()]);
    },

    /**
     * Creates or replaces a subscription. The owner must have a customer
     * profile (422 `owner_unknown`): renewals debit the owner's account and
     * email the profile's address, so a subscription nobody can be billed or
     * told about is refused rather than created on first renewal.
     */
    async put(id: string, definition: SubscriptionDefinition): Promise<{ subscription: Subscription; created: boolean }> {
      const problems = subscriptionProblems(definition);
      if (problems.length > 0) {
        throw new DomainError(problems[0]!.code, 'invalid', `The subscription breaks a rule: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}.`, problems.map(({ path, message }) => ({ path, message })));
      }
      if (!deps.ownerKnown) throw new Error('this subscription store was built without ownerKnown, so it cannot write subscriptions');
      if (!(await deps.ownerKnown(definition.ownerId))) {
        throw new DomainError('owner_unknown', 'invalid', `No customer "${definition.ownerId}": create the customer (PUT /v1/customers/{ownerId}) before subscribing them.`, [{ path: 'ownerId', message: 'no customer with this id' }]);
      }
      const now = clock();
      const existing = await subscriptions.findById(id).lean<SubscriptionDoc>();
      const doc: SubscriptionDoc = { _id: id, ownerId: definition.ownerId, plan: definition.plan, currentPeriodEnd: definition.currentPeriodEnd, autoRenew: definition.autoRenew, createdAt: existing?.createdAt ?? now, updatedAt: now };
      await subscriptions.replaceOne({ _id: id }, doc, { upsert: true });
      return { subscription: await view(doc), created: !existing };
    },

    async get(id: string): Promise<Subscription> {
      return view(await load(id));
    },

    /** One page by id; `ownerId` narrows it to one owner's subscriptions. */
    async list(page: { limit: number; cursor?: string; ownerId?: string }): Promise<{ items: Subscription[]; nextCursor: string | null }> {
      const filter: Record<string, unknown> = { ...(page.cursor ? { _id: { $gt: page.cursor } } : {}), ...(page.ownerId ? { ownerId: page.ownerId } : {}) };
      const docs = await subscriptions.find(filter).sort({ _id: 1 }).limit(page.limit + 1).lean<SubscriptionDoc[]>();
      const items = await Promise.all(docs.slice(0, page.limit).map(view));
      return { items, nextCursor: docs.length > page.limit ? (items.at(-1)?.id ?? null) : null };
    },

    /**
     * Every subscription in `_id` order, in batches, through one cursor: one
     * pass over the collection however many there are (a page read by
     * `_id > cursor` is a scan of the whole collection on FerretDB, so
     * paging through 10,000 subscriptions read it 50 times). `afterId`
     * resumes after a subscription id.
     */
    async *sweep(options: { batchSize: number; afterId?: string }): AsyncGenerator<Subscription[]> {
      const cursor = subscriptions.collection.find(options.afterId === undefined ? {} : { _id: { $gt: options.afterId } } as never).sort({ _id: 1 }).batchSize(options.batchSize);
      let batch: SubscriptionDoc[] = [];
      try {
        for await (const doc of cursor as AsyncIterable<SubscriptionDoc>) {
          batch.push(doc);
          if (batch.length < options.batchSize) continue;
          yield await Promise.all(batch.map(view));
          batch = [];
        }
        if (batch.length > 0) yield await Promise.all(batch.map(view));
      } finally {
        await cursor.close();
      }
    },

    /** The outcomes of renewing a subscription, oldest period first. */
    async renewals(id: string): Promise<RenewalRecord[]> {
      await load(id);
      return renewals.find({ subscriptionId: id }).sort({ periodEnd: 1, at: 1 }).lean<RenewalRecord[]>();
    },

    /**
     * Renews the subscription's current period when it ends within
     * `horizonMs` of now and auto-renewal is on: debits the plan's price
     * once for that period, then records the extension (see the opening
     * comment for why the order is crash-safe). A refusal by the ledger is
     * recorded once per period (`firstThisPeriod` says whether this attempt
     * recorded it, so the expiry notice goes once) and changes nothing.
     */
    async renew(id: string, options: { horizonMs: number }): Promise<RenewalOutcome> {
      const doc = await load(id);
      return renewFrom(doc, await currentPeriodEnd(doc), options);
    },

    /** `renew` for a subscription just read (a sweep's batch): the same steps without reading it again. */
    async renewRead(subscription: Subscription, options: { horizonMs: number }): Promise<RenewalOutcome> {
      const { id, currentPeriodEnd: periodEnd, ...rest } = subscription;
      return renewFrom({ _id: id, currentPeriodEnd: periodEnd, ...rest }, periodEnd, options);
    },
  };

  /** Renews the period ending at `periodEnd` (the current one of `doc`); see `renew`. */
  async function renewFrom(doc: SubscriptionDoc, periodEnd: Date, options: { horizonMs: number }): Promise<RenewalOutcome> {
    const id = doc._id;
    if (!doc.autoRenew) return { outcome: 'auto_renew_off', periodEnd };
    const now = clock();
    if (periodEnd.getTime() > now.getTime() + options.horizonMs) return { outcome: 'not_due', periodEnd };
    const { amount, unit } = doc.plan.price;
    let posted;
    try {
      posted = await deps.ledger.post({ ownerId: doc.ownerId, unit, direction: 'debit', amount, idempotencyKey: renewalKey(id, periodEnd), comment: `Renewal of ${doc.plan.name}`, source: { kind: 'subscription', subscriptionId: id, periodEnd: periodEnd.toISOString() } });
    } catch (error) {
      if (!isDomainError(error) || !REFUSALS.has(error.code)) throw error;
      const firstThisPeriod = await insertOnce({ _id: `${renewedId(id, periodEnd)}:refused`, subscriptionId: id, periodEnd, outcome: 'refused', amount, unit, code: error.code, at: now });
      return { outcome: 'refused', periodEnd, code: error.code, message: error.message, firstThisPeriod };
    }
    const newPeriodEnd = nextPeriodEnd(periodEnd, doc.plan.periodDays);
    await insertOnce({ _id: renewedId(id, periodEnd), subscriptionId: id, periodEnd, outcome: 'renewed', newPeriodEnd, entryId: posted.entry.id, amount, unit, at: now });
    return { outcome: 'renewed', periodEnd, newPeriodEnd, entryId: posted.entry.id, replayed: posted.replayed };
  }
}

export type SubscriptionStore = ReturnType<typeof createSubscriptionStore>;
