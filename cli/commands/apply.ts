import type { ApiClient } from '../api';
import { applyAll, loadResources, type ApplyResult } from '../apply';
import type { CommandLine } from '../args';
import { formatChange } from '../diff';
import { ApplyFailure } from '../apply';
import { CliError, EXIT, writeJson, type CliIo } from '../io';

/** `created`, `updated v1 -> v2` with one indented line per change, or `unchanged`. */
export function describeResult(result: ApplyResult): string[] {
  const head = `${result.kind} ${result.name} (${result.file}): `;
  if (result.action !== 'updated') return [`${head}${result.action}${result.action === 'created' && result.id ? ` as ${result.id}` : ''}`];
  const versions = result.fromVersion !== undefined && result.version !== undefined ? ` v${result.fromVersion} -> v${result.version}` : '';
  return [`${head}updated${versions}`, ...result.changes.flatMap(formatChange).map((line) => `    ${line}`)];
}

/** `creditflow apply <file|folder>...`. */
export async function applyCommand(api: ApiClient, line: CommandLine, io: CliIo): Promise<number> {
  let resources;
  try {
    resources = loadResources(io.cwd, line.positionals);
  } catch (error) {
    if (error instanceof CliError) throw new CliError(`${error.message}\nnothing was applied: every file is read before the first is sent`, error.exitCode);
    throw error;
  }
  const outcome = await applyAll(api, resources, (result) => {
    if (!line.json) io.stdout.write(`${describeResult(result).join('\n')}\n`);
  });
  const { failure } = outcome;
  if (line.json) {
    writeJson(io, {
      results: outcome.results,
      ...(failure
        ? {
            error: { file: failure.file, message: failure.error.message, ...(failure.error instanceof ApplyFailure ? { problems: failure.error.problems } : {}) },
            notApplied: failure.notApplied,
          }
        : {}),
    });
    return failure ? EXIT.failure : EXIT.ok;
  }
  if (!failure) return EXIT.ok;
  io.stderr.write(`error: ${failure.error.message}\n`);
  const applied = outcome.results.map((result) => `${result.file} (${result.action})`);
  io.stderr.write(`applied before the failure: ${applied.length > 0 ? applied.join(', ') : 'nothing'}\n`);
  io.stderr.write(`not applied: ${[failure.file, ...failure.notApplied].join(', ')}\n`);
  return EXIT.failure;
}
