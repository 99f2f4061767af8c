import type { ScriptRequest, ScriptResult } from './types';

/** Parent to child: run one script. */
export interface ParentMessage {
  id: number;
  request: ScriptRequest;
}

/**
 * Child to parent: a run has started (the parent's kill timer starts here,
 * so a cold start never counts against the script), its result, an engine
 * failure, or isolated-vm's catastrophic-error report.
 */
export type ChildMessage =
  | { type: 'started'; id: number }
  | { type: 'result'; id: number; result: ScriptResult; compromised: boolean }
  | { type: 'failure'; id: number; message: string }
  | { type: 'catastrophic'; message: string };
