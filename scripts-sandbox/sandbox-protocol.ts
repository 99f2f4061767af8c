import type { ScriptRequest, ScriptResult } from './types';

/** Parent to child: run one script. */
export interface ParentMessage {
  id: number;
  request: ScriptRequest;
}

/** Child to parent: a run's result, an engine failure, or isolated-vm's catastrophic-error report. */
export type ChildMessage =
  | { type: 'result'; id: number; result: ScriptResult; compromised: boolean }
  | { type: 'failure'; id: number; message: string }
  | { type: 'catastrophic'; message: string };
