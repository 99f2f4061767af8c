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

function compile(source: string, field: string, escapeHtml: boolean) {
  try {
    // strict: a variable the data lacks is an error naming it, never ''.
    return handlebars.compile(source, { strict: true, noEscape: !escapeHtml });
  } catch (error) {
    throw new DomainError('template_syntax', 'invalid', `${field}: ${(error as Error).message}`, [{ path: field, message: (error as Error).message }]);
  }
}

/** Parses every part, so a syntax error is reported at save time with its line. */
export function checkTemplate(sources: EmailSources): void {
  for (const [field, source] of Object.entries(sources)) {
    if (source === undefined) continue;
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
