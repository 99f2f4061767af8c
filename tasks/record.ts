import type { FieldProblem } from '../engine/errors';
import { isDomainError } from '../engine/errors';
import { MAX_AMOUNT } from '../engine/ledger/limits';
import { assertRecord, RECORD_KIND_PATTERN, type RecordInput } from '../engine/records/record-store';
import { z } from '../engine/zod';
import { isMalformedReference, valueAtPath } from '../workflows/references';
import { resolveField, TaskInputError } from '../workflows/task-inputs';
import type { TaskSpec } from '../workflows/types';
import { resolveAmount, resolveUnit } from './account';
import { contextPath, unitSchema } from './fields';
import type { TaskKind } from './task-kind';
import { resolveBody } from './webhook';

type RecordTask = TaskSpec & {
  kind: string;
  recordId: string;
  state: string;
  ownerId?: string;
  amount?: number;
  amountFrom?: string;
  unit?: string;
  unitFrom?: string;
  attributes?: Record<string, unknown>;
  version?: number;
  versionFrom?: string;
};

interface PreparedRecord {
  kind: string;
  id: string;
  input: RecordInput;
}

const templated = z.string().min(1).max(320);

/** The version: the literal, or the integer at `versionFrom`. */
function resolveVersion(task: RecordTask, context: Record<string, unknown>): number {
  const value = task.version ?? valueAtPath(context, task.versionFrom!);
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TaskInputError('record_version_invalid', `${task.version !== undefined ? 'version' : `versionFrom: "${task.versionFrom}"`} must be a non-negative integer; got ${JSON.stringify(value) ?? 'nothing'}`);
  }
  return value;
}

/**
 * `record`: upserts one record of an external object from the run's data
 * (e.g. a bill from the billing system's `bill.updated` event), through the
 * same versioned store as PUT /v1/records (engine/records/record-store.ts):
 * a stale version changes nothing and the output says `stale: true`. A retry
 * stores the same version again, which is a replay, so the effect is once.
 */
export const recordKind: TaskKind<RecordTask, PreparedRecord> = {
  type: 'record',
  fields: z.object({
    kind: z.string().regex(RECORD_KIND_PATTERN, 'must be lowercase letters, digits, _ and - (1-64), starting with a letter').openapi({ example: 'bill' }),
    recordId: templated.openapi({ description: 'The record id (`id` is the task\'s own): a literal or one `{{path}}`, e.g. `{{data.bill.id}}`.' }),
    state: templated.openapi({ description: 'The state: a literal or one `{{path}}`.' }),
    ownerId: templated.optional(),
    amount: z.number().int().min(0).max(MAX_AMOUNT).optional(),
    amountFrom: contextPath.optional(),
    unit: unitSchema.optional(),
    unitFrom: contextPath.optional(),
    attributes: z.record(z.string().max(100), z.unknown()).optional().openapi({ description: 'JSON whose strings may be `{{path}}` templates (a whole one keeps its JSON type).' }),
    version: z.number().int().min(0).optional(),
    versionFrom: contextPath.optional().openapi({ description: 'A context path to the integer version, e.g. `data.bill.version`.' }),
  }),
  validate(task, { at }) {
    const problems: FieldProblem[] = [];
    for (const field of ['recordId', 'state', 'ownerId'] as const) {
      const value = task[field];
      if (value !== undefined && isMalformedReference(value)) problems.push({ path: at(field), message: 'must be a literal or one whole {{path}} reference' });
    }
    if ((task.version === undefined) === (task.versionFrom === undefined)) problems.push({ path: at('version'), message: 'give exactly one of version and versionFrom' });
    if (task.amount !== undefined && task.amountFrom !== undefined) problems.push({ path: at('amountFrom'), message: 'give amount or amountFrom, not both' });
    const hasAmount = task.amount !== undefined || task.amountFrom !== undefined;
    const hasUnit = task.unit !== undefined || task.unitFrom !== undefined;
    if (hasAmount && !hasUnit) problems.push({ path: at('unit'), message: 'is required with an amount' });
    if (task.unit !== undefined && task.unitFrom !== undefined) problems.push({ path: at('unitFrom'), message: 'give unit or unitFrom, not both' });
    return problems;
  },
  execution: {
    mode: 'activity',
    local: false,
    // A few _id reads and one insert.
    startToCloseTimeout: '10 seconds',
    // Store outages pass; a retried put of the same version is a replay.
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 30 },
  },
  summary: (task) => `record ${task.kind}/${task.recordId} as ${task.state}`,
  prepare(task, context) {
    const scope = context as unknown as Record<string, unknown>;
    const hasAmount = task.amount !== undefined || task.amountFrom !== undefined;
    const attributes = task.attributes === undefined ? undefined : resolveBody(task.attributes, context, 'attributes');
    const input: RecordInput = {
      state: resolveField(task.state, scope, 'state'),
      version: resolveVersion(task, scope),
      ...(task.ownerId !== undefined ? { ownerId: resolveField(task.ownerId, scope, 'ownerId') } : {}),
      ...(hasAmount ? { amount: resolveAmount(task, context, true), unit: resolveUnit(task, context) } : {}),
      ...(attributes !== undefined ? { attributes: attributes as Record<string, unknown> } : {}),
    };
    const id = resolveField(task.recordId, scope, 'recordId');
    try {
      assertRecord(task.kind, id, input);
    } catch (error) {
      if (isDomainError(error)) throw new TaskInputError(error.code, error.message);
      throw error;
    }
    return { kind: task.kind, id, input };
  },
  async execute(prepared, deps) {
    if (!deps.records) throw Object.assign(new Error('this worker has no record store'), { code: 'records_unavailable', retryable: true });
    const outcome = await deps.records.put(prepared.kind, prepared.id, prepared.input);
    return { output: { ...outcome.record, stale: outcome.stale } };
  },
  async simulate(prepared) {
    const record = { kind: prepared.kind, id: prepared.id, ownerId: prepared.input.ownerId ?? null, state: prepared.input.state, amount: prepared.input.amount ?? null, unit: prepared.input.unit ?? null, attributes: prepared.input.attributes ?? {}, version: prepared.input.version };
    return { output: { ...record, stale: false }, preview: { record } };
  },
};
