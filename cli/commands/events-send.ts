import type { ApiClient } from '../api';
import type { CommandLine } from '../args';
import { loadDataFile } from '../files';
import { CliError, EXIT, writeJson, type CliIo } from '../io';

interface Accepted {
  eventId: string;
  duplicate: boolean;
  runs: Array<{ triggerId: string; triggerVersion: number; workflowId: string }>;
  signalled: string[];
}

/** The answer as a person reads it: started or duplicate, each run, the waiting runs signalled. */
export function describeAccepted(body: Accepted): string {
  const head = body.duplicate
    ? `Event ${body.eventId} was a duplicate: the API had it already, so nothing new started. Its runs:`
    : `Event ${body.eventId} accepted: ${body.runs.length} run(s) started.`;
  const lines = [head, ...body.runs.map((run) => `  ${run.workflowId}  (trigger ${run.triggerId} v${run.triggerVersion})`)];
  if (body.duplicate && body.runs.length === 0) lines.push('  none');
  lines.push(body.signalled.length > 0 ? `Signalled ${body.signalled.length} waiting run(s) to cancel: ${body.signalled.join(', ')}` : 'Signalled no waiting run.');
  return `${lines.join('\n')}\n`;
}

/**
 * `creditflow events send <event.json>`: POST /v1/events, signed with
 * Creditflow-Signature when a signing secret is set (the client signs the
 * exact JSON text it sends).
 */
export async function eventsSendCommand(api: ApiClient, line: CommandLine, io: CliIo): Promise<number> {
  const file = loadDataFile(io.cwd, line.positionals[0]!);
  if (typeof file.value !== 'object' || file.value === null || Array.isArray(file.value)) throw new CliError(`${file.name}: must hold one event object`);
  const response = await api.expect<Accepted>([200, 202], `sending ${file.name}`, 'POST', '/v1/events', file.value);
  if (line.json) writeJson(io, { status: response.status, ...response.body });
  else io.stdout.write(describeAccepted(response.body));
  return EXIT.ok;
}
