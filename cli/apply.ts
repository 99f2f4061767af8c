import path from 'node:path';
import { ApiProblemError, problemOf, type ApiClient, type Problem } from './api';
import { diffValues, type Change } from './diff';
import { parseDataFile, readText, resourceFiles, type DataFile } from './files';
import { CliError } from './io';

/**
 * What a file may hold: its `kind` says which (the one rule; nothing is
 * guessed from shape). Applied in this order, so a trigger can use a
 * template, and a group or a package exists before a trigger refers to it.
 */
export const RESOURCE_KINDS = ['template', 'group', 'package', 'trigger'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

/** One resource read from a file: a trigger found by its `key`, a template by its `name`, a customer group or a credit package by its `id`. */
export interface Resource {
  kind: ResourceKind;
  /** The trigger key, the template name, or the group or package id. */
  name: string;
  file: DataFile;
  /** The request body: the file's object without `kind`. */
  body: Record<string, unknown>;
}

export type ApplyAction = 'created' | 'updated' | 'unchanged';

export interface ApplyResult {
  file: string;
  kind: ResourceKind;
  name: string;
  id?: string;
  action: ApplyAction;
  /** The version before an update. */
  fromVersion?: number;
  /** The version now current. */
  version?: number;
  changes: Change[];
}

/** A field problem as `apply` reports it: the API's path, and the line in the file when it can be found. */
export interface FileProblem {
  path: string;
  message: string;
  line?: number;
}

/** A resource that could not be applied, naming its file and each failing path. */
export class ApplyFailure extends CliError {
  constructor(
    readonly file: string,
    readonly resource: string | undefined,
    readonly reason: string,
    readonly problems: FileProblem[] = [],
  ) {
    super([[file, resource, reason].filter(Boolean).join(': '), ...problems.map((p) => `  ${file}${p.line ? `:${p.line}` : ''}: ${p.path}: ${p.message}`)].join('\n'));
    this.name = 'ApplyFailure';
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function localProblem(file: DataFile, resource: string | undefined, fieldPath: string, message: string): ApplyFailure {
  return new ApplyFailure(file.name, resource, 'cannot be applied', [{ path: fieldPath, message, ...lineAt(file, fieldPath) }]);
}

function lineAt(file: DataFile, fieldPath: string): { line?: number } {
  const line = file.lineOf(fieldPath);
  return line === undefined ? {} : { line };
}

/** The field that names each kind's resource, and what to say when it is missing. */
const NAMING_FIELDS: Record<ResourceKind, { field: string; missing: string }> = {
  trigger: { field: 'key', missing: 'a trigger file needs a key, a slug such as account-top-up, by which apply finds the trigger again' },
  template: { field: 'name', missing: 'a template file needs the template name' },
  group: { field: 'id', missing: 'a group file needs the group id, a slug such as new-agents, which customers name as their groupId' },
  package: { field: 'id', missing: 'a package file needs the package id, a slug such as topup-100' },
};

function isResourceKind(kind: unknown): kind is ResourceKind {
  return (RESOURCE_KINDS as readonly unknown[]).includes(kind);
}

/** Reads the resource a file holds: one object with `kind: trigger` (and a `key`), `kind: template` (and a `name`), `kind: group` or `kind: package` (and an `id`). */
export function resourceFrom(file: DataFile): Resource {
  if (!isObject(file.value)) throw new ApplyFailure(file.name, undefined, 'must hold one object with kind: trigger, kind: template, kind: group or kind: package');
  const { kind, ...body } = file.value;
  if (!isResourceKind(kind)) {
    const got = kind === undefined ? 'it has none' : `got ${JSON.stringify(kind)}`;
    throw localProblem(file, undefined, 'kind', `must be "trigger", "template", "group" or "package" (${got})`);
  }
  const { field, missing } = NAMING_FIELDS[kind];
  const name = body[field];
  if (typeof name !== 'string' || name === '') throw localProblem(file, kind, field, missing);
  // A group's or a package's id is its URL, not a field of its body.
  if (kind === 'group' || kind === 'package') delete body[field];
  return { kind, name, file, body };
}

/**
 * Every resource of the files and folders named, parsed before anything is
 * sent (so a broken file stops the run before it changes anything), and
 * ordered templates first, then triggers, each in file order, so a trigger
 * can use a template applied in the same call. Two files for one resource
 * are refused.
 */
export function loadResources(cwd: string, targets: readonly string[]): Resource[] {
  const resources = resourceFiles(cwd, targets).map((name) => resourceFrom(parseDataFile(readText(path.resolve(cwd, name), name), name)));
  const seen = new Map<string, string>();
  for (const resource of resources) {
    const id = `${resource.kind} ${resource.name}`;
    const earlier = seen.get(id);
    if (earlier) throw new CliError(`${resource.file.name}: ${id} is also defined in ${earlier}; keep one file per resource`);
    seen.set(id, resource.file.name);
  }
  return RESOURCE_KINDS.flatMap((kind) => resources.filter((resource) => resource.kind === kind));
}

function label(resource: Resource): string {
  return `${resource.kind} ${resource.name}`;
}

/** Turns an API refusal into an ApplyFailure with the file's lines; `query.`/`params.` paths name the same field of the file. */
function refused(resource: Resource, what: string, problem: Problem): ApplyFailure {
  const problems = (problem.errors ?? []).map((error) => {
    const fieldPath = error.path.replace(/^(query|params)\./, '');
    return { path: fieldPath, message: error.message, ...lineAt(resource.file, fieldPath) };
  });
  return new ApplyFailure(resource.file.name, label(resource), `${what} was refused (${problem.status}${problem.code ? ` ${problem.code}` : ''}): ${problem.detail ?? 'no detail'}`, problems);
}

async function call<T>(api: ApiClient, resource: Resource, expected: number[], what: string, method: string, urlPath: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T }> {
  const response = await api.call<T>(method, urlPath, body, headers);
  if (!expected.includes(response.status)) throw refused(resource, what, problemOf(response));
  return response;
}

interface TriggerRecord {
  id: string;
  version: number;
  [field: string]: unknown;
}

/** Fields of a trigger response that are not part of its definition (`webhookSecret` is in a create's response only). */
const TRIGGER_IDENTITY_FIELDS = new Set(['id', 'version', 'createdAt', 'updatedAt', 'createdBy', 'webhookSecret']);

function definitionOf(record: TriggerRecord): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([field]) => !TRIGGER_IDENTITY_FIELDS.has(field)));
}

/**
 * Creates the trigger holding the key, or, when its definition differs from
 * the file's (both as the API normalizes them, defaults filled in), saves
 * the file's as the next version with `If-Match`, so an edit made meanwhile
 * is a clear conflict instead of being overwritten.
 */
async function applyTrigger(api: ApiClient, resource: Resource): Promise<ApplyResult> {
  const base = { file: resource.file.name, kind: resource.kind, name: resource.name };
  const found = await call<{ items: TriggerRecord[] }>(api, resource, [200], 'looking the key up', 'GET', `/v1/triggers?key=${encodeURIComponent(resource.name)}`);
  const current = found.body.items[0];
  if (!current) {
    const created = await call<TriggerRecord>(api, resource, [201], 'creating it', 'POST', '/v1/triggers', resource.body);
    return { ...base, id: created.body.id, action: 'created', version: created.body.version, changes: [] };
  }
  const validated = await call<{ definition: Record<string, unknown> }>(api, resource, [200], 'validating it', 'POST', '/v1/triggers/validate', resource.body);
  const changes = diffValues(definitionOf(current), validated.body.definition);
  if (changes.length === 0) return { ...base, id: current.id, action: 'unchanged', version: current.version, changes };
  const response = await api.call<TriggerRecord>('PUT', `/v1/triggers/${encodeURIComponent(current.id)}`, resource.body, { 'if-match': String(current.version) });
  if (response.status === 409) {
    throw new ApplyFailure(resource.file.name, label(resource), `trigger ${current.id} changed on the server while it was being applied (it was at version ${current.version}); nothing was saved: run apply again to compare with the new version`);
  }
  if (response.status !== 200) throw refused(resource, 'updating it', problemOf(response));
  return { ...base, id: current.id, action: 'updated', fromVersion: current.version, version: response.body.version, changes };
}

const TEMPLATE_PARTS = ['subject', 'text', 'html'] as const;

/** Creates the template, or replaces it when its subject, text or html differ from the file's. */
async function applyTemplate(api: ApiClient, resource: Resource): Promise<ApplyResult> {
  const base = { file: resource.file.name, kind: resource.kind, name: resource.name };
  const urlPath = `/v1/templates/${encodeURIComponent(resource.name)}`;
  const found = await call<{ source: string; version?: number } & Record<string, unknown>>(api, resource, [200, 404], 'looking the name up', 'GET', urlPath);
  if (found.status === 404) {
    const created = await call<{ version?: number }>(api, resource, [201], 'creating it', 'POST', '/v1/templates', resource.body);
    return { ...base, action: 'created', ...(created.body.version !== undefined ? { version: created.body.version } : {}), changes: [] };
  }
  if (found.body.source === 'bundled') {
    throw new ApplyFailure(resource.file.name, label(resource), 'is a template shipped with Creditflow, which cannot be replaced; give yours another name');
  }
  const pick = (from: Record<string, unknown>) => Object.fromEntries(TEMPLATE_PARTS.filter((part) => from[part] !== undefined).map((part) => [part, from[part]]));
  const { name: _name, ...parts } = resource.body;
  const changes = diffValues(pick(found.body), pick(parts));
  const fromVersion = found.body.version;
  if (changes.length === 0 && Object.keys(parts).every((part) => (TEMPLATE_PARTS as readonly string[]).includes(part))) {
    return { ...base, action: 'unchanged', ...(fromVersion !== undefined ? { version: fromVersion } : {}), changes };
  }
  const replaced = await call<{ version?: number }>(api, resource, [200], 'replacing it', 'PUT', urlPath, parts);
  return { ...base, action: 'updated', ...(fromVersion !== undefined ? { fromVersion } : {}), ...(replaced.body.version !== undefined ? { version: replaced.body.version } : {}), changes };
}

const GROUP_FIELDS = ['name', 'openingBalance', 'policy'] as const;

/**
 * Creates the customer group, or replaces it when its name, opening balance
 * or policy differ from the file's (a group has no versions: PUT is the
 * whole group). Changing an opening balance grants nothing to members that
 * already had one.
 */
async function applyGroup(api: ApiClient, resource: Resource): Promise<ApplyResult> {
  const base = { file: resource.file.name, kind: resource.kind, name: resource.name };
  const urlPath = `/v1/groups/${encodeURIComponent(resource.name)}`;
  const found = await call<Record<string, unknown>>(api, resource, [200, 404], 'looking the id up', 'GET', urlPath);
  const pick = (from: Record<string, unknown>) => Object.fromEntries(GROUP_FIELDS.map((field) => [field, from[field] ?? (field === 'name' ? undefined : {})]));
  if (found.status === 200) {
    const changes = diffValues(pick(found.body), pick(resource.body));
    if (changes.length === 0) return { ...base, id: resource.name, action: 'unchanged', changes };
    await call(api, resource, [200], 'replacing it', 'PUT', urlPath, resource.body);
    return { ...base, id: resource.name, action: 'updated', changes };
  }
  await call(api, resource, [201, 200], 'creating it', 'PUT', urlPath, resource.body);
  return { ...base, action: 'created', changes: [] };
}

/** The definition of a package as PUT takes it, with the server's defaults filled in, so equal definitions compare equal. */
function packageDefinition(from: Record<string, unknown>): Record<string, unknown> {
  return { name: from.name, price: from.price, credits: from.credits, match: from.match ?? null, active: from.active ?? true };
}

/**
 * Creates the credit package, or writes the file's definition as its next
 * version when it differs from the current one (runs in flight keep the
 * version they matched).
 */
async function applyPackage(api: ApiClient, resource: Resource): Promise<ApplyResult> {
  const base = { file: resource.file.name, kind: resource.kind, name: resource.name, id: resource.name };
  const urlPath = `/v1/packages/${encodeURIComponent(resource.name)}`;
  const found = await call<Record<string, unknown> & { version: number }>(api, resource, [200, 404], 'looking the id up', 'GET', urlPath);
  if (found.status === 200) {
    const changes = diffValues(packageDefinition(found.body), packageDefinition(resource.body));
    if (changes.length === 0) return { ...base, action: 'unchanged', version: found.body.version, changes };
    const saved = await call<{ version: number }>(api, resource, [200], 'writing its next version', 'PUT', urlPath, resource.body);
    return { ...base, action: 'updated', fromVersion: found.body.version, version: saved.body.version, changes };
  }
  const created = await call<{ version: number }>(api, resource, [201, 200], 'creating it', 'PUT', urlPath, resource.body);
  return { ...base, action: 'created', version: created.body.version, changes: [] };
}

const APPLIERS: Record<ResourceKind, (api: ApiClient, resource: Resource) => Promise<ApplyResult>> = { trigger: applyTrigger, template: applyTemplate, group: applyGroup, package: applyPackage };

/** Applies one resource. Throws ApplyFailure when the API refuses it. */
export async function applyResource(api: ApiClient, resource: Resource): Promise<ApplyResult> {
  try {
    return await APPLIERS[resource.kind](api, resource);
  } catch (error) {
    if (error instanceof ApiProblemError) throw refused(resource, error.what, error.problem);
    throw error;
  }
}

/** The outcome of applying several resources in order; stops at the first failure. */
export interface ApplyOutcome {
  results: ApplyResult[];
  failure?: { error: CliError; file: string; notApplied: string[] };
}

/**
 * Applies resources one by one, in order, and stops at the first failure,
 * saying which were applied before it and which were not tried.
 */
export async function applyAll(api: ApiClient, resources: readonly Resource[], onResult: (result: ApplyResult) => void = () => undefined): Promise<ApplyOutcome> {
  const results: ApplyResult[] = [];
  for (const [index, resource] of resources.entries()) {
    try {
      const result = await applyResource(api, resource);
      results.push(result);
      onResult(result);
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      return { results, failure: { error, file: resource.file.name, notApplied: resources.slice(index + 1).map((r) => r.file.name) } };
    }
  }
  return { results };
}
