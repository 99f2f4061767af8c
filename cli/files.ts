import fs from 'node:fs';
import path from 'node:path';
import { isCollection, LineCounter, parseDocument, type Document } from 'yaml';
import { CliError } from './io';

/** Largest file the CLI reads; a trigger is limited to far less (64 KB of script per task). */
export const MAX_FILE_BYTES = 4 * 1024 * 1024;

/** A parsed JSON or YAML file that can say on which line a field sits. */
export interface DataFile {
  /** The path as the user wrote it (or relative to the folder they named), for messages. */
  name: string;
  value: unknown;
  /** The 1-based line of a dotted path such as `tasks.1.code`, or of its nearest ancestor that exists. */
  lineOf(dottedPath: string): number | undefined;
}

/** Reads a file the user named, with an error naming it when it is missing or too large. */
export function readText(absolute: string, name: string): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(absolute);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new CliError(`${name}: no such file`);
    throw new CliError(`${name}: cannot read it (${(error as Error).message})`);
  }
  if (stat.isDirectory()) throw new CliError(`${name}: is a folder, not a file`);
  if (stat.size > MAX_FILE_BYTES) throw new CliError(`${name}: is ${stat.size} bytes, more than the ${MAX_FILE_BYTES} a file may have`);
  return fs.readFileSync(absolute, 'utf8');
}

function isJsonName(name: string): boolean {
  return name.toLowerCase().endsWith('.json');
}

/**
 * Parses JSON (`*.json`, strictly, with JSON.parse) or YAML (anything else;
 * YAML 1.2 also reads JSON). Either way the YAML parser keeps the source
 * positions, so API errors can be shown at their line.
 */
export function parseDataFile(text: string, name: string): DataFile {
  if (isJsonName(name)) {
    try {
      JSON.parse(text);
    } catch (error) {
      throw new CliError(`${name}: not valid JSON: ${(error as Error).message}`);
    }
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const [first] = doc.errors;
  if (first) {
    const at = lineCounter.linePos(first.pos[0]);
    throw new CliError(`${name}:${at.line}:${at.col}: not valid ${isJsonName(name) ? 'JSON' : 'YAML'}: ${first.message.split('\n')[0]}`);
  }
  return { name, value: doc.toJS({ maxAliasCount: 100 }) as unknown, lineOf: (dotted) => lineOf(doc, lineCounter, dotted) };
}

function lineOf(doc: Document, lineCounter: LineCounter, dotted: string): number | undefined {
  const segments = dotted.split('.').filter(Boolean).map((part) => (/^\d+$/.test(part) ? Number(part) : part));
  for (let length = segments.length; length >= 0; length -= 1) {
    const node = length === 0 ? doc.contents : doc.getIn(segments.slice(0, length), true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range && (length > 0 || isCollection(node))) return lineCounter.linePos(range[0]).line;
  }
  return undefined;
}

/** Reads and parses one data file named on the command line. */
export function loadDataFile(cwd: string, name: string): DataFile {
  return parseDataFile(readText(path.resolve(cwd, name), name), name);
}

const RESOURCE_FILE = /\.(ya?ml|json)$/i;
/** Sample events kept beside resources (for dry-run and events send), which apply leaves alone. */
const SAMPLE_EVENT_FILE = /\.event\.(ya?ml|json)$/i;

function walk(folder: string, shown: string, found: string[]): void {
  for (const entry of fs.readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (entry.name.startsWith('.')) continue;
    const shownPath = path.join(shown, entry.name);
    if (entry.isDirectory()) walk(path.join(folder, entry.name), shownPath, found);
    else if (entry.isFile() && RESOURCE_FILE.test(entry.name) && !SAMPLE_EVENT_FILE.test(entry.name)) found.push(shownPath);
  }
}

/**
 * The files `apply` reads, in order: each named file as it is, each folder
 * recursively (names sorted, hidden entries skipped) for *.yaml, *.yml and
 * *.json except sample events (*.event.json, *.event.yaml).
 */
export function resourceFiles(cwd: string, targets: readonly string[]): string[] {
  const files: string[] = [];
  for (const target of targets) {
    const absolute = path.resolve(cwd, target);
    if (!fs.existsSync(absolute)) throw new CliError(`${target}: no such file or folder`);
    if (!fs.statSync(absolute).isDirectory()) {
      files.push(target);
      continue;
    }
    const before = files.length;
    walk(absolute, target, files);
    if (files.length === before) throw new CliError(`${target}: holds no *.yaml, *.yml or *.json file to apply`);
  }
  return [...new Set(files)];
}
