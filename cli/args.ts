import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './io';

/** Options every command takes. */
const GLOBAL_OPTIONS = {
  url: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

/** Every option of every command, so one parse reads any command line; each command then refuses the ones not its own. */
const ALL_OPTIONS = {
  ...GLOBAL_OPTIONS,
  event: { type: 'string' },
  trigger: { type: 'string' },
  status: { type: 'string' },
  limit: { type: 'string' },
  follow: { type: 'boolean', short: 'f' },
  interval: { type: 'string' },
  'signing-secret': { type: 'string' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

type OptionName = keyof typeof ALL_OPTIONS;

export interface CommandSpec {
  /** One or two words: `apply`, `script test`. */
  name: string;
  usage: string;
  summary: string;
  options: OptionName[];
  /** Lines of help under the usage: options, then an example. */
  help: string[];
  /** How many positional arguments after the command words. */
  positionals: { min: number; max: number; names: string };
}

const GLOBAL_HELP = [
  '  --url <url>       API base URL (default: CREDITFLOW_URL, else http://127.0.0.1:8080)',
  '  --key <key>       API key (default: CREDITFLOW_API_KEY, else ADMIN_API_KEY, else the dev stack\'s key file)',
  '  --json            machine-readable output',
  '  -h, --help        this help',
];

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'apply', usage: 'apply <file|folder>...', summary: 'create or update triggers, templates, customer groups and credit packages from YAML or JSON files',
    options: [], positionals: { min: 1, max: Infinity, names: '<file|folder>' },
    help: [
      'Each file holds one resource with `kind: trigger` (found by its `key`), `kind: template` (found by its `name`)',
      '`kind: group` (a customer group, found by its `id`) or `kind: package` (a credit package, found by its `id`).',
      'Folders are read recursively in sorted order (*.yaml, *.yml, *.json; *.event.json and *.event.yaml are skipped),',
      'templates, then groups, then packages, then triggers. Prints created, updated (vN -> vN+1) with the changes, or unchanged.',
      '',
      'example: creditflow apply examples/',
    ],
  },
  {
    name: 'script test', usage: 'script test <file.js> [--event <event.json>]', summary: 'run a script in the sandbox against a sample event',
    options: ['event'], positionals: { min: 1, max: 1, names: '<file.js>' },
    help: [
      '  --event <file>    the sample event, JSON or YAML (default: an empty event {})',
      'Prints the output, logs and duration, or the error with its line and column; exits 1 on a script error.',
      '',
      'example: creditflow script test examples/account-top-up/compute.js --event examples/account-top-up/purchase.event.json',
    ],
  },
  {
    name: 'dry-run', usage: 'dry-run <event.json> [--trigger <id|key>]', summary: 'show which triggers an event matches and what each task would do',
    options: ['trigger'], positionals: { min: 1, max: 1, names: '<event.json>' },
    help: [
      '  --trigger <id|key>  simulate only this trigger, even while it is disabled',
      'Posts, sends and starts nothing.',
      '',
      'example: creditflow dry-run examples/account-top-up/purchase.event.json',
    ],
  },
  {
    name: 'runs', usage: 'runs [--trigger <id|key>] [--status <status>] [--limit <n>] [--follow]', summary: 'list runs, newest first; --follow prints new runs and changes',
    options: ['trigger', 'status', 'limit', 'follow', 'interval'], positionals: { min: 0, max: 0, names: '' },
    help: [
      '  --trigger <id|key>  only runs of this trigger',
      '  --status <status>   running, completed, failed, cancelled or terminated',
      '  --limit <n>         how many runs, 1 to 200 (default 20)',
      '  -f, --follow        keep polling and print new runs and status changes until Ctrl-C',
      '  --interval <s>      seconds between polls with --follow, 0.2 to 3600 (default 2)',
      '',
      'example: creditflow runs --trigger account-top-up --follow',
    ],
  },
  {
    name: 'events send', usage: 'events send <event.json> [--signing-secret <cfs_...>]', summary: 'send an event to POST /v1/events',
    options: ['signing-secret'], positionals: { min: 1, max: 1, names: '<event.json>' },
    help: [
      '  --signing-secret <cfs_...>  sign the request with Creditflow-Signature (default: CREDITFLOW_SIGNING_SECRET);',
      '                              needed when the key was created with "signing": true',
      'Prints the runs started, or that the event was a duplicate, and the waiting runs it signalled.',
      '',
      'example: creditflow events send examples/account-top-up/purchase.event.json',
    ],
  },
];

export const RUN_STATUSES = ['running', 'completed', 'failed', 'cancelled', 'terminated'] as const;

/** A parsed command line. `command` is undefined for a bare `--help` or no arguments. */
export interface CommandLine {
  command?: CommandSpec;
  positionals: string[];
  url?: string;
  key?: string;
  json: boolean;
  help: boolean;
  event?: string;
  trigger?: string;
  status?: (typeof RUN_STATUSES)[number];
  /** Runs to list: 1 to 200. */
  limit: number;
  follow: boolean;
  /** Poll interval of `runs --follow`, in milliseconds. */
  intervalMs: number;
  signingSecret?: string;
}

export const DEFAULT_RUNS_LIMIT = 20;
export const DEFAULT_INTERVAL_MS = 2_000;
const INTERVAL_BOUNDS_S = { min: 0.2, max: 3_600 };

function findCommand(words: string[]): CommandSpec | undefined {
  return COMMANDS.find((spec) => {
    const parts = spec.name.split(' ');
    return parts.every((part, index) => words[index] === part);
  });
}

function unknownCommand(words: string[]): UsageError {
  const first = words[0]!;
  const group = COMMANDS.filter((spec) => spec.name.startsWith(`${first} `));
  if (group.length > 0) {
    const got = words[1] === undefined ? 'nothing' : `"${words[1]}"`;
    return new UsageError(`"${first}" needs a subcommand: ${group.map((spec) => spec.name).join(', ')} (got ${got})`);
  }
  return new UsageError(`unknown command "${first}"; commands: ${COMMANDS.map((spec) => spec.name).join(', ')}`);
}

function integer(value: string, option: string, min: number, max: number, command: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || parsed < min || parsed > max) throw new UsageError(`--${option} must be a whole number from ${min} to ${max}; got "${value}"`, command);
  return parsed;
}

function intervalMs(value: string | undefined, command: string): number {
  if (value === undefined) return DEFAULT_INTERVAL_MS;
  const seconds = Number(value);
  if (value.trim() === '' || !Number.isFinite(seconds) || seconds < INTERVAL_BOUNDS_S.min || seconds > INTERVAL_BOUNDS_S.max) {
    throw new UsageError(`--interval must be a number of seconds from ${INTERVAL_BOUNDS_S.min} to ${INTERVAL_BOUNDS_S.max}; got "${value}"`, command);
  }
  return Math.round(seconds * 1000);
}

function runStatus(value: string | undefined, command: string): CommandLine['status'] {
  if (value === undefined) return undefined;
  const found = RUN_STATUSES.find((status) => status === value);
  if (!found) throw new UsageError(`--status must be one of ${RUN_STATUSES.join(', ')}; got "${value}"`, command);
  return found;
}

/**
 * Reads a command line: the command words first or after global options,
 * then its arguments and options in any order. Anything wrong is a
 * UsageError naming the value (exit code 2).
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: ALL_OPTIONS, allowPositionals: true, strict: true, tokens: true });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const { values, positionals, tokens } = parsed;
  const help = values.help === true;
  if (positionals.length === 0) {
    if (help) return { positionals: [], json: false, help: true, limit: DEFAULT_RUNS_LIMIT, follow: false, intervalMs: DEFAULT_INTERVAL_MS };
    throw new UsageError('no command given');
  }
  const command = findCommand(positionals);
  if (!command) throw unknownCommand(positionals);
  const rest = positionals.slice(command.name.split(' ').length);
  const allowed = new Set<string>([...Object.keys(GLOBAL_OPTIONS), ...command.options]);
  for (const token of tokens) {
    if (token.kind === 'option' && !allowed.has(token.name)) throw new UsageError(`${token.rawName} is not an option of "${command.name}"`, command.name);
  }
  if (!help) {
    if (rest.length < command.positionals.min) throw new UsageError(`"${command.name}" needs ${command.positionals.names}`, command.name);
    if (rest.length > command.positionals.max) throw new UsageError(`"${command.name}" takes ${command.positionals.max === 0 ? 'no arguments' : `one ${command.positionals.names}`}; got also "${rest[command.positionals.max]}"`, command.name);
  }
  return {
    command,
    positionals: rest,
    ...(values.url !== undefined ? { url: values.url } : {}),
    ...(values.key !== undefined ? { key: values.key } : {}),
    json: values.json === true,
    help,
    ...(values.event !== undefined ? { event: values.event } : {}),
    ...(values.trigger !== undefined ? { trigger: values.trigger } : {}),
    ...(values.status !== undefined ? { status: runStatus(values.status, command.name) } : {}),
    limit: values.limit === undefined ? DEFAULT_RUNS_LIMIT : integer(values.limit, 'limit', 1, 200, command.name),
    follow: values.follow === true,
    intervalMs: intervalMs(values.interval, command.name),
    ...(values['signing-secret'] !== undefined ? { signingSecret: values['signing-secret'] } : {}),
  };
}

/** The help text of one command, or of the whole CLI. */
export function helpText(command?: CommandSpec): string {
  if (command) {
    return [`usage: creditflow ${command.usage}`, '', `${command.summary[0]!.toUpperCase()}${command.summary.slice(1)}.`, '', ...command.help, '', 'Options of every command:', ...GLOBAL_HELP, ''].join('\n');
  }
  const width = Math.max(...COMMANDS.map((spec) => spec.name.length));
  return [
    'usage: creditflow <command> [options]    (in this repository: npm run cf -- <command> [options])',
    '',
    'Commands:',
    ...COMMANDS.map((spec) => `  ${spec.name.padEnd(width)}  ${spec.summary}`),
    '',
    'Options of every command:',
    ...GLOBAL_HELP,
    '',
    'Run creditflow <command> --help for its options and an example. Exit codes: 0 ok, 1 failure, 2 usage.',
    '',
  ].join('\n');
}
