import type { ScriptError } from './types';

/** Name admin code carries in stack traces; the runtime looks for it to find line and column. */
export const SCRIPT_FILE = 'script.js';

/** What a script sees in scope, in the order the runtime passes them. */
export const SCRIPT_PARAMS = ['event', 'data', 'reservation', 'tasks', 'trigger', 'console', 'results', 'item', 'index', 'account', 'customer'] as const;

/**
 * Wraps a function body into a strict async function expression. The header
 * is the whole first line, so compiling with lineOffset -1 makes the admin's
 * first line line 1 and leaves columns untouched. Strict mode keeps the
 * function unreachable from its own body (no arguments.callee, no sloppy
 * `this`) and turns writes to the frozen realm into errors instead of silent
 * no-ops. The function is frozen because one compiled function serves every
 * run of the same code.
 */
export function wrapScript(code: string): string {
  return `"use strict";Object.freeze(async function (${SCRIPT_PARAMS.join(', ')}) {\n${code}\n})`;
}

/** Compile options matching `wrapScript`. */
export const WRAPPED_ORIGIN = { filename: SCRIPT_FILE, lineOffset: -1 } as const;

const compileLocation = new RegExp(` \\[${SCRIPT_FILE.replace('.', '\\.')}:(\\d+):(\\d+)\\]$`);

/**
 * Turns the SyntaxError isolated-vm reports for a wrapped script into a
 * position in the admin's code. isolated-vm appends `[file:line:column]` to
 * the message; that suffix is the only place the position is available.
 * An error on the wrapper's closing line means the code ended too early, so
 * it is reported at the end of the admin's last line.
 */
export function syntaxErrorFromCompile(code: string, compileMessage: string): ScriptError {
  const match = compileLocation.exec(compileMessage);
  if (match === null) return { code: 'script_syntax', message: `SyntaxError: ${compileMessage}` };
  const message = compileMessage.slice(0, match.index);
  const line = Number(match[1]);
  const column = Number(match[2]);
  const lines = code.split(/\r\n|[\n\r\u2028\u2029]/);
  if (line > lines.length) {
    const lastLine = lines[lines.length - 1] ?? '';
    return { code: 'script_syntax', message: 'SyntaxError: Unexpected end of input', line: lines.length, column: lastLine.length + 1 };
  }
  return { code: 'script_syntax', message: `SyntaxError: ${message}`, line, column };
}
