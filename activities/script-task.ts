import { ApplicationFailure, log } from '@temporalio/activity';
import type { Sandbox, ScriptInput, ScriptLimits } from '../scripts-sandbox';

export interface RunScriptRequest {
  code: string;
  input: ScriptInput;
  limits?: ScriptLimits;
}

/**
 * Runs the admin's script in the sandbox. A script error is the admin's, not
 * ours: it fails the task at once (non-retryable) with the sandbox code and
 * the line and column in the admin's code.
 */
export function createRunScriptTask(sandbox: Pick<Sandbox, 'run'>) {
  return async function runScriptTask(request: RunScriptRequest): Promise<unknown> {
    const result = await sandbox.run(request);
    if (result.logs.length > 0) log.info('script logs', { logs: result.logs });
    if (result.ok) return result.output;
    const { code, message, line, column } = result.error;
    throw ApplicationFailure.nonRetryable(message, code, { code, message, line, column, logs: result.logs });
  };
}
