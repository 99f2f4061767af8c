import { resolveText } from './references';
import type { AccountTaskSpec, EmailTaskSpec, EventEnvelope, TriggerSnapshot } from './types';

/** A task that cannot run with the data it was given: the admin's trigger or script is wrong. */
export class TaskInputError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'TaskInputError';
  }
}

/** Data every task can read: the event, its data, the reservation, and earlier outputs by task id. */
export function runScope(event: EventEnvelope, outputs: Record<string, unknown>): { event: EventEnvelope; data: Record<string, unknown>; reservation: unknown; tasks: Record<string, unknown> } {
  const reservation = (event.data as { reservation?: unknown }).reservation;
  return { event, data: event.data, reservation, tasks: outputs };
}

export function scriptInput(trigger: TriggerSnapshot, event: EventEnvelope, outputs: Record<string, unknown>) {
  return { ...runScope(event, outputs), trigger: { id: trigger.id, name: trigger.name, version: trigger.version } };
}

/** The amount in minor units: the literal, or the input task's `amount_cents`. */
export function accountAmount(task: AccountTaskSpec, outputs: Record<string, unknown>): number {
  if (task.amount !== undefined) return task.amount;
  const output = task.inputTaskId === undefined ? undefined : outputs[task.inputTaskId];
  const amount = (output as { amount_cents?: unknown } | undefined)?.amount_cents;
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 0) {
    throw new TaskInputError('amount_invalid', `task "${task.inputTaskId}" must return amount_cents as a non-negative integer in minor units; got ${JSON.stringify(amount) ?? 'nothing'}`);
  }
  return amount;
}

export function resolveField(value: string, scope: Record<string, unknown>, field: string): string {
  try {
    return resolveText(value, scope);
  } catch (error) {
    const path = (error as { path?: string }).path ?? value;
    throw new TaskInputError('reference_missing', `${field}: nothing at "${path}" in the run's data`);
  }
}

/** Template variables: the event, data, reservation, and the input task's `vars` at top level. */
export function emailVariables(task: EmailTaskSpec, event: EventEnvelope, outputs: Record<string, unknown>): Record<string, unknown> {
  const output = task.inputTaskId === undefined ? undefined : outputs[task.inputTaskId];
  const vars = (output as { vars?: unknown } | undefined)?.vars;
  const topLevel = vars !== null && typeof vars === 'object' && !Array.isArray(vars) ? (vars as Record<string, unknown>) : {};
  return { ...runScope(event, outputs), ...topLevel };
}
