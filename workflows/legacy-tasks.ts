/**
 * The task chain as the previous release ran it, kept so that runs it
 * started (their input has tasks without `execution`) replay and finish the
 * way they began: the same activities, in the same order, with the same
 * inputs. New runs never come here; see runTasks in trigger-run.ts.
 */
import { proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { emailSummary, postingSummary, scriptSummary } from './summaries';
import { accountAmount, emailVariables, resolveField, runScope, scriptInput } from './task-inputs';
import type { AccountTaskSpec, EmailTaskSpec, LegacyTaskSpec, ScriptTaskSpec, TaskOutcome, TriggerRunInput } from './types';

const SCRIPT_ERROR_CODES = ['script_syntax', 'script_runtime', 'script_timeout', 'script_memory_limit', 'script_output_invalid', 'script_output_too_large', 'script_code_too_large'];

const { runScriptTask } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes: SCRIPT_ERROR_CODES },
});
const { postAccountTask } = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 30 },
});
const { sendEmailTask } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 30 },
});

/** True when the run was started by the previous release: no task says how it is executed. */
export function isLegacyRun(input: TriggerRunInput): boolean {
  return input.trigger.tasks.some((task) => task.execution === undefined);
}

/** One task of a legacy run, exactly as the previous release ran it. */
export async function runLegacyTask(spec: LegacyTaskSpec, input: TriggerRunInput, outputs: Record<string, unknown>): Promise<TaskOutcome> {
  switch (spec.type) {
    case 'script':
      return runScript(spec, input, outputs);
    case 'account':
      return postAccount(spec, input, outputs);
    case 'email':
      return sendEmail(spec, input, outputs);
  }
}

async function runScript(task: ScriptTaskSpec, input: TriggerRunInput, outputs: Record<string, unknown>): Promise<TaskOutcome> {
  const limits = { ...(task.timeoutMs ? { timeoutMs: task.timeoutMs } : {}), ...(task.memoryMb ? { memoryMb: task.memoryMb } : {}) };
  const scriptArgs = { code: task.code, input: scriptInput(input.trigger, input.event, outputs), limits };
  return { output: await runScriptTask.executeWithOptions({ summary: scriptSummary(task.id) }, [scriptArgs]) };
}

async function postAccount(task: AccountTaskSpec, input: TriggerRunInput, outputs: Record<string, unknown>): Promise<TaskOutcome> {
  const { trigger, event } = input;
  const { workflowId } = workflowInfo();
  const amount = accountAmount(task, outputs);
  if (amount === 0) return { output: { amount: 0 }, skipReason: 'the amount is 0' };
  const ownerId = resolveField(task.owner, runScope(event, outputs), 'owner');
  const posted = await postAccountTask.executeWithOptions({ summary: postingSummary(task.action, amount, task.unit, ownerId) }, [{
    ownerId,
    unit: task.unit,
    direction: task.action,
    amount,
    idempotencyKey: `${workflowId}:${task.id}`,
    createIfMissing: task.createIfMissing,
    ...(task.comment ? { comment: task.comment } : {}),
    source: { kind: 'trigger', triggerId: trigger.id, workflowId, taskId: task.id, eventId: event.id },
  }]);
  return { output: posted };
}

async function sendEmail(task: EmailTaskSpec, input: TriggerRunInput, outputs: Record<string, unknown>): Promise<TaskOutcome> {
  const { workflowId } = workflowInfo();
  const to = resolveField(task.to, runScope(input.event, outputs), 'to');
  const { template, subject, text, html } = task;
  const sent = await sendEmailTask.executeWithOptions({ summary: emailSummary(to, template) }, [{
    outboxKey: `${workflowId}:${task.id}`,
    to,
    ...(template ? { template } : {}),
    ...(subject ? { subject } : {}),
    ...(text ? { text } : {}),
    ...(html ? { html } : {}),
    variables: emailVariables(task, input.event, outputs),
  }]);
  return { output: sent };
}
