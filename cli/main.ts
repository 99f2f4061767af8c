// The `creditflow` command line: talks to the Creditflow API over HTTP only.
// `npm run cf -- <command>` runs this file; the `creditflow` bin (cli/bin.cjs)
// loads it and calls `main`. Tests call `run` in process.
import { ApiClient } from './api';
import { helpText, parseCommandLine, type CommandLine } from './args';
import { applyCommand } from './commands/apply';
import { dryRunCommand } from './commands/dry-run';
import { eventsSendCommand } from './commands/events-send';
import { runsCommand } from './commands/runs';
import { scriptTestCommand } from './commands/script-test';
import { CliError, EXIT, UsageError, type CliIo } from './io';
import { resolveSettings } from './settings';

type Command = (api: ApiClient, line: CommandLine, io: CliIo) => Promise<number>;

const HANDLERS: Record<string, Command> = {
  apply: applyCommand,
  'script test': scriptTestCommand,
  'dry-run': dryRunCommand,
  runs: runsCommand,
  'events send': eventsSendCommand,
};

async function dispatch(argv: readonly string[], io: CliIo): Promise<number> {
  const line = parseCommandLine(argv);
  if (line.help || !line.command) {
    io.stdout.write(helpText(line.command));
    return EXIT.ok;
  }
  const settings = resolveSettings({ ...(line.url !== undefined ? { url: line.url } : {}), ...(line.key !== undefined ? { key: line.key } : {}), ...(line.signingSecret !== undefined ? { signingSecret: line.signingSecret } : {}) }, io.env);
  const api = new ApiClient(settings, io.signal);
  return HANDLERS[line.command.name]!(api, line, io);
}

/**
 * Runs one command line and resolves with its exit code: 0 ok, 1 failure,
 * 2 usage. Everything goes through `io`, so tests run it in process.
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (error) {
    if (io.signal?.aborted) return EXIT.ok;
    if (!(error instanceof CliError)) throw error;
    io.stderr.write(`error: ${error.message}\n`);
    if (error instanceof UsageError) io.stderr.write(`run: creditflow ${error.command ? `${error.command} ` : ''}--help\n`);
    return error.exitCode;
  }
}

/**
 * The process entry: real stdio and env, Ctrl-C ends a `--follow`, and
 * relative paths are read from where the user typed the command (npm runs
 * `npm run cf` in the repository root and says where in INIT_CWD).
 */
export function main(argv: readonly string[]): void {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  const cwd = process.env.npm_lifecycle_event === 'cf' && process.env.INIT_CWD ? process.env.INIT_CWD : process.cwd();
  run(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd, signal: controller.signal }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`creditflow: unexpected error (a bug; please report it): ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = EXIT.failure;
    },
  );
}

if (require.main === module) main(process.argv.slice(2));
