// What a chaos run will do, decided by its seed before anything starts:
// the purchases (who, what price, when) with what happens around each one
// (duplicates, cancellations in the window, before the purchase, racing it,
// after the run completed), and the kill moments. Pure: the same seed and
// options give the same plan, which is what makes a failing seed replayable.
import { topUpEvent } from '../engine/triggers/documented-top-up';
import type { ChaosOptions } from './chaos-options';
import { SeededRandom } from './chaos-random';

/** What a kill picks from: one of the two workers or APIs, or a service. */
export const KILL_KINDS = ['worker', 'api', 'ferretdb', 'temporal', 'maildev'] as const;
export type KillKind = (typeof KILL_KINDS)[number];

/**
 * - `plain`: the purchase, once.
 * - `duplicate`: the purchase posted again, to the other API too, some posts at the same moment.
 * - `cancel_in_window`: the cancellation some seconds after the purchase was accepted.
 * - `cancel_first`: the cancellation accepted before the purchase is sent (it is held, CANCEL_HOLD_HOURS).
 * - `cancel_racing`: purchase and cancellation sent at the same moment to the two APIs.
 * - `cancel_late`: the cancellation once the run has completed: it changes nothing.
 * - `no_package`: a price the trigger's script maps to no package: nothing credited, nothing mailed.
 */
export const PURCHASE_KINDS = ['plain', 'duplicate', 'cancel_in_window', 'cancel_first', 'cancel_racing', 'cancel_late', 'no_package'] as const;
export type PurchaseKind = (typeof PURCHASE_KINDS)[number];

/** How often each kind is drawn, in percent. */
const KIND_WEIGHTS: Record<PurchaseKind, number> = { plain: 40, duplicate: 15, cancel_in_window: 15, cancel_first: 7, cancel_racing: 7, cancel_late: 8, no_package: 8 };

/** The package prices of the documented top-up and what each credits, in cents. */
export const CREDIT_FOR_PRICE: Readonly<Record<number, number>> = { 5000: 6000, 10000: 15000 };
/** A price that matches no package: the script computes 0. */
export const NO_PACKAGE_PRICE = 7000;
/** Purchases per account on average: several purchases of one user post to one account concurrently. */
const PURCHASES_PER_USER = 4;
/** Purchases start in this first part of the load phase, so the last ones' windows end within it. */
const PURCHASE_SPREAD = 0.8;
/** Kills happen between these fractions of the load phase. */
const KILL_SPREAD = [0.05, 0.95] as const;
/** How long a killed process stays down before its restart, in ms (the restart itself comes on top). */
const DOWN_MS = [200, 5_000] as const;

export interface ChaosEvent {
  readonly id: string;
  readonly type: string;
  readonly data: Record<string, unknown>;
}

export interface PlannedPurchase {
  readonly index: number;
  readonly kind: PurchaseKind;
  /** When the scenario starts, in ms from the start of the load phase. */
  readonly startMs: number;
  readonly ownerId: string;
  readonly email: string;
  readonly priceInt: number;
  /** What the top-up credits for this price (0: no package). */
  readonly expectedCreditCents: number;
  readonly purchase: ChaosEvent;
  readonly cancel?: ChaosEvent;
  /** cancel_in_window: the wait after the purchase was accepted; cancel_first: after the cancellation was accepted. */
  readonly delayMs: number;
  /** Extra posts of the purchase (and of its cancellation) beyond the first. */
  readonly extraPosts: number;
}

export interface PlannedKill {
  readonly atMs: number;
  readonly kind: KillKind;
  /** Which of the two workers or APIs (ignored for services). */
  readonly replica: 0 | 1;
  readonly downMs: number;
}

export interface ChaosPlan {
  readonly purchases: readonly PlannedPurchase[];
  readonly kills: readonly PlannedKill[];
}

export function planChaos(options: Pick<ChaosOptions, 'seed' | 'loadMs' | 'purchases' | 'kills' | 'windowSeconds'>): ChaosPlan {
  const random = new SeededRandom(options.seed);
  return { purchases: planPurchases(random.fork('purchases'), options), kills: planKills(random.fork('kills'), options) };
}

function planPurchases(random: SeededRandom, options: Pick<ChaosOptions, 'loadMs' | 'purchases' | 'windowSeconds'>): PlannedPurchase[] {
  const users = Math.max(1, Math.round(options.purchases / PURCHASES_PER_USER));
  const spreadMs = options.loadMs * PURCHASE_SPREAD;
  const windowMs = options.windowSeconds * 1000;
  const purchases: PlannedPurchase[] = [];
  for (let index = 0; index < options.purchases; index += 1) {
    const kind = weightedKind(random);
    const user = random.int(1, users);
    const priceInt = kind === 'no_package' ? NO_PACKAGE_PRICE : random.pick([5000, 10000]);
    const ownerId = `chaos_user_${user}`;
    const email = `user${user}@chaos.example`;
    const reservationId = `res_chaos_${index}`;
    const event = (id: string, type: string) => {
      const { data } = topUpEvent({ eventId: id, type, reservationId, priceInt, user: { id: ownerId, email, name: `User ${user}` } });
      return { id, type, data };
    };
    const cancels = kind.startsWith('cancel_');
    purchases.push({
      index,
      kind,
      startMs: Math.round((index / options.purchases) * spreadMs + random.between(0, spreadMs / options.purchases)),
      ownerId,
      email,
      priceInt,
      expectedCreditCents: CREDIT_FOR_PRICE[priceInt] ?? 0,
      purchase: event(`evt_chaos_${index}_purchase`, 'request.created'),
      ...(cancels ? { cancel: event(`evt_chaos_${index}_cancel`, 'request.cancelled') } : {}),
      // In the window: at most a third of it, so the cancellation is accepted well before it ends unless an outage delays it.
      delayMs: kind === 'cancel_in_window' ? Math.round(random.between(300, windowMs / 3)) : kind === 'cancel_first' ? Math.round(random.between(0, 3_000)) : 0,
      extraPosts: kind === 'duplicate' ? random.int(1, 3) : random.chance(0.1) ? 1 : 0,
    });
  }
  return purchases;
}

function weightedKind(random: SeededRandom): PurchaseKind {
  let roll = random.between(0, 100);
  for (const kind of PURCHASE_KINDS) {
    roll -= KIND_WEIGHTS[kind];
    if (roll < 0) return kind;
  }
  return 'plain';
}

/** Every kind at least once, the rest drawn at random, at random moments in order. */
function planKills(random: SeededRandom, options: Pick<ChaosOptions, 'loadMs' | 'kills'>): PlannedKill[] {
  const kinds: KillKind[] = [...KILL_KINDS];
  while (kinds.length < options.kills) kinds.push(random.pick(KILL_KINDS));
  const shuffled = random.shuffled(kinds);
  const times = shuffled.map(() => Math.round(random.between(KILL_SPREAD[0], KILL_SPREAD[1]) * options.loadMs)).sort((a, b) => a - b);
  return shuffled.map((kind, i) => ({ atMs: times[i]!, kind, replica: random.chance(0.5) ? 1 : 0, downMs: Math.round(random.between(DOWN_MS[0], DOWN_MS[1])) }));
}
