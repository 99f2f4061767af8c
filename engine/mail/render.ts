import Handlebars from 'handlebars';
import { DomainError } from '../errors';

export interface RenderedEmail {
  subject: string;
  text: string;
  html?: string;
}

export interface EmailSources {
  subject: string;
  text: string;
  html?: string;
}

// One private Handlebars environment: no helpers or partials registered by
// anyone else can leak into admin templates.
const handlebars = Handlebars.create();

/** Longest rendered subject; mail servers and clients truncate beyond this anyway. */
const MAX_SUBJECT_LENGTH = 998;

/** Compiled templates kept per source text; beyond this the least recently used is dropped. */
const MAX_COMPILED = 500;

/**
 * Deepest nesting of block helpers (`{{#if}}`, `{{#each}}`, ...) a template
 * may have. Handlebars' parser slows down sharply with depth (2,000 nested
 * `{{#if}}` took 1.5 s of the API's thread), so deeper templates are refused
 * before they are parsed; real ones nest a few levels.
 */
export const MAX_BLOCK_DEPTH = 16;

const BLOCK_TAG = /\{\{~?\s*([#/^])/g;
/** `{{^}}` on its own: an else, read at the position of a `{{^` match (sticky, so the scan stays linear). */
const INVERSE_ELSE = /\{\{~?\s*\^\s*~?\}\}/y;

/** Refuses a template whose blocks nest deeper than MAX_BLOCK_DEPTH, by a linear scan of its tags. */
function assertBlockDepth(source: string, field: string): void {
  let depth = 0;
  for (const match of source.matchAll(BLOCK_TAG)) {
    // `{{^}}` alone is an else, not a block; `{{^name}}` opens an inverted block.
    INVERSE_ELSE.lastIndex = match.index;
    if (match[1] === '^' && INVERSE_ELSE.test(source)) continue;
    depth += match[1] === '/' ? -1 : 1;
    if (depth > MAX_BLOCK_DEPTH) {
      const message = `blocks nest deeper than ${MAX_BLOCK_DEPTH} levels`;
      throw new DomainError('template_too_deep', 'invalid', `${field}: ${message}`, [{ path: field, message }]);
    }
  }
}

type Compiled = ReturnType<typeof handlebars.compile>;
const compiled = new Map<string, Compiled>();

/**
 * The compiled template for this source. Compiling costs far more than
 * rendering, and a run's templates repeat, so compiled functions are kept
 * by source text (an edited template is a new source, compiled afresh).
 */
function compile(source: string, field: string, escapeHtml: boolean): Compiled {
  const key = `${escapeHtml ? 'html' : 'text'}\u0000${source}`;
  const cached = compiled.get(key);
  if (cached) {
    compiled.delete(key);
    compiled.set(key, cached);
    return cached;
  }
  assertBlockDepth(source, field);
  let template: Compiled;
  try {
    // strict: a variable the data lacks is an error naming it, never ''.
    // Handlebars compiles on first use (and keeps the result); parse now so a syntax error is reported, not cached.
    handlebars.parse(source);
    template = handlebars.compile(source, { strict: true, noEscape: !escapeHtml });
  } catch (error) {
    throw new DomainError('template_syntax', 'invalid', `${field}: ${(error as Error).message}`, [{ path: field, message: (error as Error).message }]);
  }
  compiled.set(key, template);
  if (compiled.size > MAX_COMPILED) compiled.delete(compiled.keys().next().value as string);
  return template;
}

/** Parses every part, so a syntax error is reported at save time with its line. */
export function checkTemplate(sources: EmailSources): void {
  for (const [field, source] of Object.entries(sources)) {
    if (source === undefined) continue;
    assertBlockDepth(source, field);
    try {
      handlebars.parse(source);
    } catch (error) {
      const message = (error as Error).message.split('\n')[0] ?? 'syntax error';
      throw new DomainError('template_syntax', 'invalid', `${field}: ${message}`, [{ path: field, message }]);
    }
  }
}

function renderPart(source: string, field: string, variables: Record<string, unknown>, escapeHtml: boolean): string {
  try {
    return compile(source, field, escapeHtml)(variables, { allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false });
  } catch (error) {
    if (error instanceof DomainError) throw error;
    const message = (error as Error).message.replace(/ in \[object Object\]/, '');
    throw new DomainError('template_variable_missing', 'invalid', `${field}: ${message}`, [{ path: field, message }]);
  }
}

/** Renders subject and text as plain text and html with escaping. */
export function renderEmail(sources: EmailSources, variables: Record<string, unknown>): RenderedEmail {
  const subject = renderPart(sources.subject, 'subject', variables, false).replace(/\s+/g, ' ').trim().slice(0, MAX_SUBJECT_LENGTH);
  const text = renderPart(sources.text, 'text', variables, false);
  const html = sources.html === undefined ? undefined : renderPart(sources.html, 'html', variables, true);
  return { subject, text, ...(html !== undefined ? { html } : {}) };
}
