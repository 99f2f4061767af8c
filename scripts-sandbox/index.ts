import { createSandbox } from './sandbox-pool';
import type { Sandbox, ScriptRequest, ScriptResult } from './types';

export type {
  ProcessSandbox,
  Sandbox,
  SandboxOptions,
  ScriptError,
  ScriptErrorCode,
  ScriptInput,
  ScriptLimits,
  ScriptRequest,
  ScriptResult,
} from './types';
export { checkLimits, type LimitProblem } from './limits';
export { createChildSandbox } from './sandbox';
export { createSandbox } from './sandbox-pool';
export { createInProcessSandbox, type InProcessSandbox } from './in-process-sandbox';
export { SandboxBusyError } from './sandbox-busy-error';
export { SandboxDisposedError } from './sandbox-disposed-error';
export { SandboxStartError } from './sandbox-start-error';
export { SandboxStoppedError } from './sandbox-stopped-error';

let defaultSandbox: Sandbox | null = null;

/**
 * Runs a script on a default sandbox (default options), created on first
 * use. Long-lived processes should prefer their own `createSandbox` so they
 * can configure maximums and dispose it on shutdown.
 */
export function runScript(request: ScriptRequest): Promise<ScriptResult> {
  defaultSandbox ??= createSandbox();
  return defaultSandbox.run(request);
}
