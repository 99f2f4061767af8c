/** Raised to callers whose run was in flight when the sandbox was disposed (an ENGINE condition, not the script's fault). */
export class SandboxDisposedError extends Error {
  readonly code = 'sandbox_disposed';
  constructor() {
    super('the script sandbox was disposed');
  }
}
