/**
 * Payment requests, owned here end to end (contract: api-v1.md, "payment
 * requests"): creating one per reference while none is open, the states the
 * gateway's events drive, expiry, and the reads the API shows.
 *
 * Everything two writers may share changes by inserts with deterministic
 * `_id`s, so it is safe on FerretDB 1.x (an update is a read, then a
 * whole-document write) as on MongoDB:
 *
 * - A reference is held by claims `<reference>#<n>`, n = 1, 2, ... A new
 *   request takes the next claim after the last one, only when the last
 *   one's request is no longer open; two runs racing for one bill both try
 *   to insert the same claim, and the duplicate key tells the loser, which
 *   then finds the winner's request open and is skipped (`request_open`).
 * - A request's states are inserted beside it: `<id>:processing` and
 *   `<id>:final` (succeeded, failed or expired). The first final state
 *   inserted wins; a later one (a late confirmation after the expiry was
 *   recorded) changes nothing. A request past its `expiresAt` without a
 *   final state is expired by whoever reads it first, by the same insert.
 */
import { Schema, type Connection } from 'mongoose';
import { DomainError } from '../errors';
import { driverCollection, isDuplicateKeyError, modelOn } from '../store';

export type PaymentRequestState = 'pending' | 'under_processing' | 'succeeded' | 'failed' | 'expired';
export const PAYMENT_REQUEST_STATES: readonly PaymentRequestState[] = ['pending', 'under_processing', 'succeeded', 'failed', 'expired'];
/** States in which a request holds its reference: no other request for it is created. */
export const OPEN_STATES: readonly PaymentRequestState[] = ['pending', 'under_processing'];
/** Event types the gateway sends, and the state each leads to. */
export const GATEWAY_EVENT_STATES = {
  'payment_request.processing': 'under_processing',
  'payment_request.succeeded': 'succeeded',
  'payment_request.failed': 'failed',
} as const satisfies Record<string, PaymentRequestState>;
/** The claims one reference may have had; more means something is very wrong with its writers. */
const MAX_CLAIMS_PER_REFERENCE = 10_000;

export interface PaymentRequestInput {
  /** Deterministic: derived from the run's effect key, so a retried task names the same request. */
  id: string;
  reference: string;
  gateway: string;
  ownerId: string;
  /** Minor units of `unit`, at least 1. */
  amount: number;
  unit: string;
  workflowId: string;
  /** How long the request may stay open before it expires. */
  expiresInSeconds: number;
}

/** A payment request as the API and runs show it. */
export interface PaymentRequest {
  id: string;
  reference: string;
  gateway: string;
  ownerId: string;
  amount: number;
  unit: string;
  state: PaymentRequestState;
  /** Why a request failed or expired (the gateway's reason, `gateway_timeout`, `wait_timeout`). */
  reason: string | null;
  workflowId: string;
  createdAt: string;
  expiresAt: string;
  /** When it reached under_processing and its final state; null until then. */
  processingAt: string | null;
  finishedAt: string | null;
}

interface RequestDoc {
  _id: string;
  reference: string;
  gateway: string;
  ownerId: string;
  amount: number;
  unit: string;
  workflowId: string;
  createdAt: Date;
  expiresAt: Date;
}

interface StateDoc {
  _id: string;
  requestId: string;
  state: PaymentRequestState;
  reason: string | null;
  eventId: string | null;
  at: Date;
}

interface ClaimDoc {
  _id: string;
  reference: string;
  slot: number;
  requestId: string;
  claimedAt: Date;
  /** A claim whose request was never written (its run died first) stops holding the reference then. */
  expiresAt: Date;
}

const requestSchema = new Schema<RequestDoc>({
  _id: String, reference: { type: String, required: true }, gateway: { type: String, required: true }, ownerId: { type: String, required: true },
  amount: { type: Number, required: true }, unit: { type: String, required: true }, workflowId: { type: String, required: true },
  createdAt: { type: Date, required: true }, expiresAt: { type: Date, required: true },
}, { collection: 'payment_requests', versionKey: false });
const stateSchema = new Schema<StateDoc>({
  _id: String, requestId: { type: String, required: true }, state: { type: String, required: true }, reason: { type: String, default: null }, eventId: { type: String, default: null }, at: { type: Date, required: true },
}, { collection: 'payment_request_states', versionKey: false });
const claimSchema = new Schema<ClaimDoc>({
  _id: String, reference: { type: String, required: true }, slot: { type: Number, required: true }, requestId: { type: String, required: true },
  claimedAt: { type: Date, required: true }, expiresAt: { type: Date, required: true },
}, { collection: 'payment_request_claims', versionKey: false });

/** What creating found: the new (or retried) request, or another request holding the reference. */
export type CreateOutcome = { created: PaymentRequest } | { open: PaymentRequest | { id: string; state: 'pending' } };

export function createPaymentRequests(connection: Connection, clock: () => Date = () => new Date()) {
  const Request = modelOn(connection, 'PaymentRequest', requestSchema);
  const State = modelOn(connection, 'PaymentRequestState', stateSchema);
  const Claim = modelOn(connection, 'PaymentRequestClaim', claimSchema);
  const requests = driverCollection(Request);
  const states = driverCollection(State);
  const claims = driverCollection(Claim);

  /** Inserts a state; false when that slot (processing, or the final one) is taken. */
  async function insertState(doc: StateDoc): Promise<boolean> {
    try {
      await states.insertOne(doc);
      return true;
    } catch (error) {
      if (isDuplicateKeyError(error)) return false;
      throw error;
    }
  }

  /** The request with its state; a request past its expiry without a final state is expired here, once. */
  async function viewOf(doc: RequestDoc): Promise<PaymentRequest> {
    let final = await states.findOne({ _id: `${doc._id}:final` });
    if (!final && clock() >= doc.expiresAt) {
      await insertState({ _id: `${doc._id}:final`, requestId: doc._id, state: 'expired', reason: 'expired', eventId: null, at: clock() });
      final = await states.findOne({ _id: `${doc._id}:final` });
    }
    const processing = await states.findOne({ _id: `${doc._id}:processing` });
    const state: PaymentRequestState = final?.state ?? (processing ? 'under_processing' : 'pending');
    return {
      id: doc._id, reference: doc.reference, gateway: doc.gateway, ownerId: doc.ownerId, amount: doc.amount, unit: doc.unit, state,
      reason: final?.reason ?? null, workflowId: doc.workflowId, createdAt: doc.createdAt.toISOString(), expiresAt: doc.expiresAt.toISOString(),
      processingAt: processing ? processing.at.toISOString() : null, finishedAt: final ? final.at.toISOString() : null,
    };
  }

  /** The request a claim holds the reference for, or null when the claim no longer holds it. */
  async function openRequestOf(claim: ClaimDoc): Promise<PaymentRequest | { id: string; state: 'pending' } | null> {
    const doc = await requests.findOne({ _id: claim.requestId });
    if (!doc) return clock() < claim.expiresAt ? { id: claim.requestId, state: 'pending' } : null;
    const request = await viewOf(doc);
    return OPEN_STATES.includes(request.state) ? request : null;
  }

  async function get(id: string): Promise<PaymentRequest> {
    const doc = await requests.findOne({ _id: id });
    if (!doc) throw new DomainError('payment_request_not_found', 'not_found', `No payment request "${id}".`);
    return viewOf(doc);
  }

  return {
    async ensureIndexes(): Promise<void> {
      for (const model of [Request, State, Claim]) {
        await model.createCollection().catch((error: unknown) => {
          if ((error as { code?: unknown }).code !== 48) throw error;
        });
      }
    },

    /**
     * Creates the request unless another one for the reference is open.
     * Retrying with the same id finds its own claim and returns its request.
     */
    async create(input: PaymentRequestInput): Promise<CreateOutcome> {
      const now = clock();
      const expiresAt = new Date(now.getTime() + input.expiresInSeconds * 1000);
      for (let slot = 1; slot <= MAX_CLAIMS_PER_REFERENCE; slot += 1) {
        const claimId = `${input.reference}#${slot}`;
        let claim = await claims.findOne({ _id: claimId });
        if (!claim) {
          try {
            await claims.insertOne({ _id: claimId, reference: input.reference, slot, requestId: input.id, claimedAt: now, expiresAt });
            break;
          } catch (error) {
            if (!isDuplicateKeyError(error)) throw error;
            claim = (await claims.findOne({ _id: claimId }))!;
          }
        }
        if (claim.requestId === input.id) break;
        const open = await openRequestOf(claim);
        if (open) return { open };
      }
      try {
        await requests.insertOne({ _id: input.id, reference: input.reference, gateway: input.gateway, ownerId: input.ownerId, amount: input.amount, unit: input.unit, workflowId: input.workflowId, createdAt: now, expiresAt });
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
      }
      return { created: await get(input.id) };
    },

    get,

    /**
     * Records what a gateway event says about a request: processing, then
     * succeeded or failed (the first final state wins). Returns the request
     * as it now stands; null for a request this store does not know.
     */
    async applyGatewayEvent(event: { id: string; type: keyof typeof GATEWAY_EVENT_STATES; requestId: string; reason?: string | undefined }): Promise<PaymentRequest | null> {
      const doc = await requests.findOne({ _id: event.requestId });
      if (!doc) return null;
      const state = GATEWAY_EVENT_STATES[event.type];
      const slot = state === 'under_processing' ? 'processing' : 'final';
      if (clock() < doc.expiresAt || slot === 'processing') {
        await insertState({ _id: `${doc._id}:${slot}`, requestId: doc._id, state, reason: state === 'failed' ? (event.reason ?? 'failed') : null, eventId: event.id, at: clock() });
      }
      return viewOf(doc);
    },

    /** Ends a request that the gateway refused or never answered (`failed` or `expired`); a request already final keeps its state. */
    async finish(id: string, state: 'failed' | 'expired', reason: string): Promise<PaymentRequest> {
      await insertState({ _id: `${id}:final`, requestId: id, state, reason, eventId: null, at: clock() });
      return get(id);
    },

    /** Requests in id order, by reference, owner and state (state filtered after reading, since expiry is computed). */
    async list(filter: { reference?: string | undefined; state?: PaymentRequestState | undefined; ownerId?: string | undefined }, page: { limit: number; cursor?: string | undefined }): Promise<{ items: PaymentRequest[]; nextCursor: string | null }> {
      const query: Record<string, unknown> = {};
      if (filter.reference !== undefined) query.reference = filter.reference;
      if (filter.ownerId !== undefined) query.ownerId = filter.ownerId;
      if (page.cursor !== undefined) query._id = { $gt: page.cursor };
      const items: PaymentRequest[] = [];
      let last: string | null = null;
      let more = false;
      // At most 10 reads of 200 per page; a page cut short by the state filter still says where to go on.
      for (let round = 0; round < 10 && items.length < page.limit; round += 1) {
        more = false;
        const docs: RequestDoc[] = await Request.find(last === null ? query : { ...query, _id: { $gt: last } }).sort({ _id: 1 }).limit(200).lean<RequestDoc[]>();
        for (const doc of docs) {
          if (items.length === page.limit) {
            more = true;
            break;
          }
          last = doc._id;
          const view = await viewOf(doc);
          if (filter.state === undefined || view.state === filter.state) items.push(view);
        }
        if (more || docs.length < 200) break;
        more = true;
      }
      return { items, nextCursor: more ? last : null };
    },
  };
}

export type PaymentRequests = ReturnType<typeof createPaymentRequests>;
