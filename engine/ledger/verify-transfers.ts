import type { LedgerContext } from './context';
import type { EntryDoc } from './models';
import { transferKey } from './transfer';
import type { Counterparty, TransferLeg, TransferProblem } from './types';

/** Transfers read again at once (the ones the first pass left open), by transferId. */
const REREAD_BATCH = 500;

const LEGS: readonly TransferLeg[] = ['debit', 'credit', 'reversal'];

/** An entry as the transfer check reads it. */
type LegEntry = Pick<EntryDoc, '_id' | 'ownerId' | 'unit' | 'direction' | 'amount' | 'idempotencyKey' | 'transferId' | 'transferLeg' | 'counterparty'>;

const PROJECTION = { ownerId: 1, unit: 1, direction: 1, amount: 1, idempotencyKey: 1, transferId: 1, transferLeg: 1, counterparty: 1 } as const;

function names(counterparty: Counterparty | undefined | null, entry: LegEntry): boolean {
  return counterparty?.ownerId === entry.ownerId && counterparty.unit === entry.unit;
}

function show(counterparty: Counterparty | undefined | null): string {
  return counterparty ? `${counterparty.unit}/${counterparty.ownerId}` : 'nobody';
}

/** Problems of each entry on its own: a known leg, the key derived from the transfer id, the direction the leg implies. */
function checkLegs(transferId: string, legs: LegEntry[]): string[] {
  const problems: string[] = [];
  for (const entry of legs) {
    const leg = entry.transferLeg;
    if (leg === undefined || !LEGS.includes(leg)) {
      problems.push(`entry ${entry._id}: leg "${String(leg)}" is unknown`);
      continue;
    }
    if (entry.idempotencyKey !== transferKey(transferId, leg)) problems.push(`entry ${entry._id}: key "${entry.idempotencyKey}" is not "${transferKey(transferId, leg)}"`);
    const direction = leg === 'debit' ? 'debit' : 'credit';
    if (entry.direction !== direction) problems.push(`entry ${entry._id}: the ${leg} is a ${entry.direction}`);
  }
  return problems;
}

/** The debit against the entry that settles it: the credit on the other account, or the reversal on its own. */
function checkSettlement(debit: LegEntry, settle: LegEntry): string[] {
  const problems: string[] = [];
  const leg = settle.transferLeg ?? 'credit';
  if (settle.amount !== debit.amount) problems.push(`${leg} ${settle._id} moves ${settle.amount}, debit ${debit._id} ${debit.amount}`);
  if (settle.unit !== debit.unit) problems.push(`${leg} ${settle._id} is in ${settle.unit}, debit ${debit._id} in ${debit.unit}`);
  if (leg === 'credit') {
    if (settle.ownerId === debit.ownerId && settle.unit === debit.unit) problems.push(`credit ${settle._id} is on the debited account`);
    if (!names(debit.counterparty, settle)) problems.push(`debit ${debit._id} names ${show(debit.counterparty)} as counterparty, but the credit ${settle._id} is on ${settle.unit}/${settle.ownerId}`);
    if (!names(settle.counterparty, debit)) problems.push(`credit ${settle._id} names ${show(settle.counterparty)} as counterparty, but the debit ${debit._id} is on ${debit.unit}/${debit.ownerId}`);
  } else {
    if (settle.ownerId !== debit.ownerId || settle.unit !== debit.unit) problems.push(`reversal ${settle._id} is on ${settle.unit}/${settle.ownerId}, not on the debited ${debit.unit}/${debit.ownerId}`);
    if (show(settle.counterparty) !== show(debit.counterparty)) problems.push(`reversal ${settle._id} names ${show(settle.counterparty)} as counterparty, the debit ${show(debit.counterparty)}`);
  }
  return problems;
}

/**
 * Judges all entries of one transfer: exactly one debit, settled by exactly
 * one credit or one reversal, with the same amount and unit, each naming
 * the other side as its counterparty.
 */
export function judgeTransfer(transferId: string, legs: LegEntry[]): string[] {
  const problems = checkLegs(transferId, legs);
  const of = (leg: TransferLeg) => legs.filter((entry) => entry.transferLeg === leg);
  const [debits, credits, reversals] = [of('debit'), of('credit'), of('reversal')];
  for (const [leg, found] of [['debit', debits], ['credit', credits], ['reversal', reversals]] as const) {
    if (found.length > 1) problems.push(`${found.length} ${leg} entries: ${found.map((e) => e._id).join(', ')}`);
  }
  const [debit] = debits;
  const [credit] = credits;
  const [reversal] = reversals;
  if (!debit) {
    problems.push(`no debit, but ${legs.map((e) => `${e.transferLeg ?? 'entry'} ${e._id}`).join(', ')}`);
    return problems;
  }
  if (credit && reversal) problems.push(`credited (${credit._id}) and also reversed (${reversal._id})`);
  if (!credit && !reversal) problems.push(`debit ${debit._id} has neither a credit nor a reversal: the transfer stopped between its halves (retrying it completes or reverses it)`);
  for (const settle of [credit, reversal]) if (settle) problems.push(...checkSettlement(debit, settle));
  return problems;
}

/** A debit and exactly one entry settling it: the common case, judged as soon as the pass has met both. */
function isPair(legs: LegEntry[]): boolean {
  return legs.length === 2 && legs.some((e) => e.transferLeg === 'debit') && legs.some((e) => e.transferLeg === 'credit' || e.transferLeg === 'reversal');
}

/**
 * Checks that every transfer's entries pair up. One pass over the entries
 * that carry a transferId (FerretDB scans for it; verify walks every
 * account anyway, and the posting path never does this): a pair is judged
 * and forgotten as soon as both halves are met, so memory holds only the
 * transfers still open at that point of the pass. Those are read again
 * whole by transferId and judged, so a third entry met after its pair was
 * closed is judged together with that pair.
 */
export async function verifyTransfers(context: LedgerContext, onBroken: (problem: TransferProblem) => void): Promise<number> {
  let checked = 0;
  const open = new Map<string, LegEntry[]>();
  const judge = (transferId: string, legs: LegEntry[]) => {
    const problems = judgeTransfer(transferId, legs);
    if (problems.length > 0) onBroken({ transferId, problems });
  };
  const cursor = context.models.entries.find({ transferId: { $exists: true } }, { projection: PROJECTION });
  for await (const entry of cursor as AsyncIterable<LegEntry>) {
    const transferId = entry.transferId;
    if (typeof transferId !== 'string') continue;
    // A transfer has one debit (its key is unique), so counting debits counts transfers; one without a debit is counted below.
    if (entry.transferLeg === 'debit') checked += 1;
    const legs = [...(open.get(transferId) ?? []), entry];
    if (isPair(legs)) {
      open.delete(transferId);
      judge(transferId, legs);
    } else {
      open.set(transferId, legs);
    }
  }
  const unsettled = [...open.keys()];
  for (let from = 0; from < unsettled.length; from += REREAD_BATCH) {
    const batch = unsettled.slice(from, from + REREAD_BATCH);
    const docs = await context.models.entries.find({ transferId: { $in: batch } }, { projection: PROJECTION }).toArray() as LegEntry[];
    for (const transferId of batch) {
      const legs = docs.filter((doc) => doc.transferId === transferId);
      if (!legs.some((e) => e.transferLeg === 'debit')) checked += 1;
      judge(transferId, legs);
    }
  }
  return checked;
}
