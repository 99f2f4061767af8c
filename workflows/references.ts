/**
 * `{{path}}` references in task fields (owner, to). A reference is parsed
 * into a dotted path and looked up as data, never evaluated as code; a
 * missing value is an error naming the path.
 */

const REFERENCE = /^\{\{\s*([A-Za-z_$][\w$]*(?:\.[\w$-]+)*)\s*\}\}$/;

export class ReferenceError extends Error {
  readonly code = 'reference_missing';
  constructor(readonly path: string) {
    super(`nothing at "${path}" in the run's data`);
    this.name = 'ReferenceError';
  }
}

/** The dotted path inside `{{...}}`, or undefined for a literal. */
export function parseReference(value: string): string | undefined {
  return REFERENCE.exec(value)?.[1];
}

/** True when the text contains braces but is not one whole reference. */
export function isMalformedReference(value: string): boolean {
  return value.includes('{{') && parseReference(value) === undefined;
}

/** The value at a dotted path, or undefined when any step is missing. */
export function valueAtPath(root: unknown, path: string): unknown {
  let current: unknown = root;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object' || !Object.prototype.hasOwnProperty.call(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** Resolves a literal or a `{{path}}` to a non-empty string. */
export function resolveText(value: string, scope: Record<string, unknown>): string {
  const path = parseReference(value);
  if (path === undefined) return value;
  const found = valueAtPath(scope, path);
  if (typeof found === 'string' && found.length > 0) return found;
  if (typeof found === 'number' && Number.isFinite(found)) return String(found);
  throw new ReferenceError(path);
}
