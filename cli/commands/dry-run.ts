import type { ApiClient } from '../api';
import type { CommandLine } from '../args';
import { loadDataFile } from '../files';
import { CliError, EXIT, writeJson, type CliIo } from '../io';
import { resolveTrigger } from '../trigger-ref';

interface DryRunTask {
  id: string;
  type: string;
  outcome: 'would_complete' | 'would_skip' | 'would_fail';
  output?: unknown;
  error?: { code: string; message: string; line?: number; column?: number };
  reason?: string;
  posting?: { ownerId: string; unit: string; direction: string; amount: number; accountExists: boolean; balanceBefore: number; balanceAfter: number };
  email?: { to: string; subject: string };
  logs?: string[];
}

interface DryRunResult {
  event: { id: string; type: string };
  matched: Array<{ triggerId: string; triggerKey?: string; triggerVersion: number; name: string; waitSeconds: number; tasks: DryRunTask[] }>;
  notMatched: Array<{ triggerId: string; triggerKey?: string; name: string; reason: string }>;
  wouldCancel: string[];
}

function triggerName(trigger: { triggerId: string; triggerKey?: string; name: string }): string {
  return `"${trigger.name}" (${trigger.triggerKey ? `${trigger.triggerKey}, ` : ''}${trigger.triggerId})`;
}

/** What one task would do, in one line (plus its script logs). */
export function describeTask(task: DryRunTask): string[] {
  const outcome = task.outcome.replace('_', ' ');
  let detail = '';
  if (task.error) {
    const where = task.error.line !== undefined ? ` (line ${task.error.line}, column ${task.error.column ?? 0})` : '';
    detail = `${task.error.code}: ${task.error.message}${where}`;
  } else if (task.reason) detail = task.reason;
  else if (task.posting) {
    const p = task.posting;
    detail = `${p.direction} ${p.amount} ${p.unit} ${p.direction === 'credit' ? 'to' : 'from'} ${p.ownerId}${p.accountExists ? '' : ' (a new account)'}: balance ${p.balanceBefore} -> ${p.balanceAfter}`;
  } else if (task.email) detail = `email to ${task.email.to}: "${task.email.subject}"`;
  else if (task.type === 'script') detail = `output ${JSON.stringify(task.output) ?? 'undefined'}`;
  const lines = [`${task.id}  ${task.type}  ${outcome}${detail ? `: ${detail}` : ''}`];
  for (const log of task.logs ?? []) lines.push(`  log: ${log}`);
  return lines;
}

/** The dry run as a person reads it: each match with its tasks, the rest with their reasons, the runs it would cancel. */
export function describeDryRun(result: DryRunResult): string {
  const lines = [`Event ${result.event.id} (${result.event.type}) matches ${result.matched.length} trigger(s).`];
  for (const match of result.matched) {
    lines.push('', `${triggerName(match)} v${match.triggerVersion}: waits ${match.waitSeconds} s, then:`);
    for (const task of match.tasks) lines.push(...describeTask(task).map((line) => `  ${line}`));
  }
  if (result.notMatched.length > 0) {
    lines.push('', 'Not matched:');
    for (const other of result.notMatched) lines.push(`  ${triggerName(other)}: ${other.reason}`);
  }
  lines.push('', result.wouldCancel.length > 0 ? `Would cancel ${result.wouldCancel.length} waiting run(s): ${result.wouldCancel.join(', ')}` : 'Would cancel no waiting run.');
  lines.push('Nothing was posted, sent or started.');
  return `${lines.join('\n')}\n`;
}

/** `creditflow dry-run <event.json> [--trigger <id|key>]`. */
export async function dryRunCommand(api: ApiClient, line: CommandLine, io: CliIo): Promise<number> {
  const file = loadDataFile(io.cwd, line.positionals[0]!);
  if (typeof file.value !== 'object' || file.value === null || Array.isArray(file.value)) throw new CliError(`${file.name}: must hold one event object`);
  const trigger = line.trigger === undefined ? undefined : await resolveTrigger(api, line.trigger);
  const urlPath = trigger ? `/v1/triggers/${encodeURIComponent(trigger.id)}/dry-run` : '/v1/triggers/dry-run';
  const response = await api.expect<DryRunResult>([200], `the dry run of ${file.name}`, 'POST', urlPath, { event: file.value });
  if (line.json) writeJson(io, response.body);
  else io.stdout.write(describeDryRun(response.body));
  return EXIT.ok;
}
