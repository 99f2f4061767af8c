import path from 'node:path';
import type { ApiClient } from '../api';
import type { CommandLine } from '../args';
import { loadDataFile, readText } from '../files';
import { CliError, EXIT, writeJson, type CliIo } from '../io';

interface ScriptResult {
  ok: boolean;
  output?: unknown;
  error?: { code: string; message: string; line?: number; column?: number };
  logs: string[];
  durationMs?: number;
}

function indent(text: string): string {
  return text.split('\n').map((line) => `  ${line}`).join('\n');
}

/** `creditflow script test <file.js> [--event <event.json>]`: exit 1 on a script error. */
export async function scriptTestCommand(api: ApiClient, line: CommandLine, io: CliIo): Promise<number> {
  const file = line.positionals[0]!;
  const code = readText(path.resolve(io.cwd, file), file);
  if (code.trim() === '') throw new CliError(`${file}: is empty; a script is a function body that may return a value`);
  const event = line.event === undefined ? {} : loadDataFile(io.cwd, line.event).value;
  if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new CliError(`${line.event}: must hold one event object`);
  const response = await api.expect<ScriptResult>([200], 'the script test-run', 'POST', '/v1/scripts/test', { code, input: { event } });
  const result = response.body;
  if (line.json) {
    writeJson(io, result);
    return result.ok ? EXIT.ok : EXIT.failure;
  }
  const logs = result.logs.length > 0 ? `logs:\n${indent(result.logs.join('\n'))}\n` : 'logs: none\n';
  if (result.ok) {
    io.stdout.write(`ok in ${result.durationMs ?? '?'} ms\noutput:\n${indent(JSON.stringify(result.output, null, 2) ?? 'undefined')}\n${logs}`);
    return EXIT.ok;
  }
  const error = result.error!;
  const at = error.line !== undefined ? `:${error.line}:${error.column ?? 0}` : '';
  const where = error.line !== undefined ? ` (line ${error.line}, column ${error.column ?? 0})` : '';
  io.stderr.write(`${file}${at}: ${error.code}: ${error.message}${where}\n${logs}`);
  return EXIT.failure;
}
