/**
 * One-line summaries that Temporal stores as user metadata, so that a run
 * and each of its activities read as what they do in the Temporal UI and in
 * `temporal workflow describe` ("Account top-up · user_42 · request.created
 * evt_8f2c", "credit 6000 USD to user_42"). Pure: the API uses the run
 * summary when it starts a run, the workflow the activity summaries.
 */
import { resolveText } from './references';
import type { EventEnvelope, TriggerSnapshot } from './types';

/** Temporal shows a summary on one line; longer text is cut with an ellipsis. */
export const SUMMARY_MAX_CHARS = 200;

const SEPARATOR = ' · ';

/** The account owner a run is about: its first account task's owner, when the event names it. */
export function runOwner(trigger: Pick<TriggerSnapshot, 'tasks'>, event: EventEnvelope): string | undefined {
  const scope = { event, data: event.data, reservation: (event.data as { reservation?: unknown }).reservation, tasks: {} };
  for (const task of trigger.tasks) {
    if (task.type !== 'account' || typeof task.owner !== 'string') continue;
    try {
      return resolveText(task.owner, scope);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** "<trigger name> · <owner> · <event type> <event id>", the owner left out when unknown. */
export function runSummary(trigger: Pick<TriggerSnapshot, 'name' | 'tasks'>, event: EventEnvelope): string {
  const owner = runOwner(trigger, event);
  return oneLine([trigger.name, owner, `${event.type} ${event.id}`].filter((part): part is string => Boolean(part)).join(SEPARATOR));
}

/** Markdown shown under the summary: which trigger version and event, the wait and the task chain. */
export function runDetails(trigger: TriggerSnapshot, event: EventEnvelope): string {
  const tasks = trigger.tasks.map((task, index) => `${index + 1}. \`${task.id}\` (${task.type})`).join('\n');
  return [
    `**Trigger** ${trigger.name} (\`${trigger.id}\`, version ${trigger.version})`,
    `**Event** \`${event.id}\` (${event.type}, ${event.occurredAt})`,
    `**Wait** ${trigger.wait.seconds} s${trigger.cancelOn ? `, cancelled by ${trigger.cancelOn.types.join(', ')} on \`${trigger.cancelOn.correlate}\`` : ''}`,
    `**Tasks**\n${tasks}`,
  ].join('\n\n');
}

/** "credit 6000 USD to user_42" */
export function postingSummary(direction: 'credit' | 'debit', amount: number, unit: string, ownerId: string): string {
  return oneLine(`${direction} ${amount} ${unit} ${direction === 'credit' ? 'to' : 'from'} ${ownerId}`);
}

/** "email ada@example.com (account-credited)" */
export function emailSummary(to: string, template: string | undefined): string {
  return oneLine(`email ${to}${template ? ` (${template})` : ''}`);
}

/** "script compute" */
export function scriptSummary(taskId: string): string {
  return oneLine(`script ${taskId}`);
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= SUMMARY_MAX_CHARS ? flat : `${flat.slice(0, SUMMARY_MAX_CHARS - 1)}…`;
}
