import type { TransferRequest } from '../engine/ledger';
import { MAX_AMOUNT, MAX_COMMENT_LENGTH, MAX_TRANSFER_ID_LENGTH } from '../engine/ledger/limits';
import { applyPosting } from '../engine/ledger/policy';
import { z } from '../engine/zod';
import { isMalformedReference } from '../workflows/references';
import { resolveField, TaskInputError } from '../workflows/task-inputs';
import type { TaskSpec } from '../workflows/types';
import { amountAndUnitProblems, LEDGER_RETRY, resolveAmount, resolveUnit, runSource, withDefaultUnit } from './account';
import { contextPath, ownerReference, unitSchema } from './fields';
import type { TaskKind } from './task-kind';
import { ledgerKeyOf } from './ledger-key';

type TransferTask = TaskSpec & {
  from: string;
  to: string;
  amount?: number;
  amountFrom?: string;
  inputTaskId?: string;
  unit?: string;
  unitFrom?: string;
  createIfMissing: boolean;
  comment?: string;
};

/** What a transfer task outputs. */
export interface TransferOutput {
  transferId: string;
  debitEntryId: string;
  creditEntryId: string;
  fromOwnerId: string;
  toOwnerId: string;
  unit: string;
  amount: number;
  fromBalanceAfter: number;
  toBalanceAfter: number;
  replayed: boolean;
}

/**
 * `transfer`: moves value between two accounts of one unit, exactly once per
 * run: a debit on `from` (under its policy) and a credit on `to` sharing a
 * transferId, each naming the other as counterparty. A crash between the
 * halves is completed by the retry; a credit refused for good is reversed
 * (`transfer_reversed`). See engine/ledger/README.md, "Transfers".
 */
export const transferKind: TaskKind<TransferTask, TransferRequest | null> = {
  type: 'transfer',
  // The comment goes on both entries as written (prepare).
  contextFields: { literal: ['comment'] },
  fields: z.object({
    from: ownerReference,
    to: ownerReference,
    amount: z.number().int().min(0).max(MAX_AMOUNT).optional(),
    amountFrom: contextPath.optional(),
    inputTaskId: z.string().optional(),
    unit: unitSchema.optional(),
    unitFrom: contextPath.optional(),
    createIfMissing: z.boolean().default(false),
    comment: z.string().max(MAX_COMMENT_LENGTH).optional(),
  }),
  validate(task, { at, earlier }) {
    const problems = amountAndUnitProblems(task, at, earlier);
    for (const field of ['from', 'to'] as const) {
      if (isMalformedReference(task[field])) problems.push({ path: at(field), message: 'must be a literal owner id or one whole {{path}} reference' });
    }
    if (task.from === task.to) problems.push({ path: at('to'), message: 'must name another account than from' });
    return problems;
  },
  normalize: withDefaultUnit,
  execution: {
    // Two or three postings take milliseconds: a local activity, as an account task's posting is
    // (no round trip through the server's activity queue). A worker that dies between the halves
    // leaves its workflow task to time out, and the next worker's attempt completes the transfer.
    // 20 s, twice an account posting's: both halves may queue behind other postings to a busy
    // account (a partner's master wallet), and each may retry races lost to other processes.
    mode: 'activity',
    local: true,
    startToCloseTimeout: '20 seconds',
    // Both halves are idempotent by the transfer id, so a retry completes a transfer a crash cut in two.
    retry: LEDGER_RETRY,
  },
  summary: (task) => `transfer ${task.amount ?? (task.amountFrom ? `{{${task.amountFrom}}}` : `{{tasks.${task.inputTaskId}.amount_cents}}`)} ${task.unitFrom ? `{{${task.unitFrom}}}` : task.unit} from ${task.from} to ${task.to}`,
  prepare(task, context, effect) {
    const amount = resolveAmount(task, context, false);
    if (amount === 0) return null;
    const scope = context as unknown as Record<string, unknown>;
    const fromOwnerId = resolveField(task.from, scope, 'from');
    const toOwnerId = resolveField(task.to, scope, 'to');
    if (fromOwnerId === toOwnerId) throw new TaskInputError('transfer_same_account', `from and to are both "${fromOwnerId}"; a transfer moves value between two accounts`);
    return {
      transferId: ledgerKeyOf(effect.key, MAX_TRANSFER_ID_LENGTH),
      fromOwnerId,
      toOwnerId,
      unit: resolveUnit(task, context),
      amount,
      createIfMissing: task.createIfMissing,
      ...(task.comment !== undefined ? { comment: task.comment } : {}),
      source: runSource(task, context, effect),
    };
  },
  async execute(request, deps) {
    if (!request) return { output: { amount: 0 }, skipReason: 'the amount is 0' };
    const result = await deps.ledger.transfer(request);
    const output: TransferOutput = {
      transferId: result.transferId,
      debitEntryId: result.debitEntryId,
      creditEntryId: result.creditEntryId,
      fromOwnerId: request.fromOwnerId,
      toOwnerId: request.toOwnerId,
      unit: request.unit,
      amount: request.amount,
      fromBalanceAfter: result.fromBalanceAfter,
      toBalanceAfter: result.toBalanceAfter,
      replayed: result.replayed,
    };
    return { output };
  },
  async simulate(request, deps) {
    if (!request) return { output: { amount: 0 }, skipReason: 'the amount is 0' };
    const [from, to] = [await deps.projection.account(request.fromOwnerId, request.unit), await deps.projection.account(request.toOwnerId, request.unit)];
    for (const [side, account, ownerId] of [['from', from, request.fromOwnerId], ['to', to, request.toOwnerId]] as const) {
      if (!account.exists && !request.createIfMissing) throw new TaskInputError('account_not_found', `${side}: no ${request.unit} account for "${ownerId}", and the task does not create one`);
    }
    const now = deps.clock();
    const fromAfter = applyPosting(from.state, 'debit', request.amount, from.policy, now);
    const toAfter = applyPosting(to.state, 'credit', request.amount, to.policy, now);
    deps.projection.apply(request.fromOwnerId, request.unit, fromAfter);
    deps.projection.apply(request.toOwnerId, request.unit, toAfter);
    const transfer = {
      fromOwnerId: request.fromOwnerId, toOwnerId: request.toOwnerId, unit: request.unit, amount: request.amount,
      fromBalanceBefore: from.state.balance, fromBalanceAfter: fromAfter.balance, toBalanceBefore: to.state.balance, toBalanceAfter: toAfter.balance,
    };
    // The output has the real one's shape, so later tasks can reference it; entry ids do not exist yet.
    const output = { transferId: request.transferId, debitEntryId: null, creditEntryId: null, ...transfer, replayed: false };
    return { output, preview: { transfer } };
  },
};
