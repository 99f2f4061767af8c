import { spawn } from 'node:child_process';

/** The outcome of a finished helper command, with its output kept for error lines. */
export interface CommandResult {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** True when the executable itself was not found (ENOENT). */
  readonly missing: boolean;
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** The command is killed after this long; every provisioning step has a bound. */
  readonly timeoutMs: number;
}

/**
 * Runs a provisioning command (pip, go, ...) to completion, capturing its
 * output. It never rejects: a missing executable or a timeout come back as a
 * result, so callers can turn them into one clear line.
 */
export function runCommand(command: string, args: readonly string[], options: RunOptions): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], timeout: options.timeoutMs, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error: NodeJS.ErrnoException) => resolve({ exitCode: null, stdout, stderr: stderr || error.message, missing: error.code === 'ENOENT' }));
    child.on('close', (exitCode, signal) => {
      const killed = signal ? `\nkilled by ${signal} (time limit ${options.timeoutMs} ms)` : '';
      resolve({ exitCode, stdout, stderr: stderr + killed, missing: false });
    });
  });
}

/** The last non-empty line of a command's output, for one-line error messages. */
export function lastLine(result: CommandResult): string {
  const lines = `${result.stdout}\n${result.stderr}`.split('\n').map((line) => line.trim()).filter(Boolean);
  return lines.at(-1) ?? `exit code ${result.exitCode}`;
}
