import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** The sources of one email template; `text` is required, `html` optional. */
export interface TemplateSource {
  name: string;
  subject: string;
  text: string;
  html?: string;
}

/** Where templates come from: files shipped in `templates/`, and later the API's store. */
export interface TemplateCatalog {
  get(name: string): Promise<TemplateSource | null>;
  names(): Promise<string[]>;
}

/** Template names are folder names: short, lowercase, hyphenated. */
export const TEMPLATE_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** How long a template read from its files is used before they are read again, in ms. */
export const TEMPLATE_FILE_TTL_MS = 1_000;

async function readTemplateFolder(directory: string, name: string): Promise<TemplateSource | null> {
  const folder = path.join(directory, name);
  const [subject, text, html] = await Promise.all(['subject.hbs', 'text.hbs', 'html.hbs'].map((file) => readOptional(path.join(folder, file))));
  if (subject === undefined || text === undefined) return null;
  return { name, subject: subject.trim(), text, ...(html !== undefined ? { html } : {}) };
}

/**
 * Templates shipped as folders: `templates/<name>/subject.hbs`, `text.hbs`
 * and optionally `html.hbs`. Read on demand, so edits need no restart; a
 * read is reused for TEMPLATE_FILE_TTL_MS, so a busy worker does not read
 * three files per email, and an edit shows within a second.
 */
export function fileTemplateCatalog(directory: string, clockMs: () => number = Date.now): TemplateCatalog {
  const recent = new Map<string, { readAtMs: number; source: Promise<TemplateSource | null> }>();
  return {
    async get(name) {
      if (!TEMPLATE_NAME.test(name)) return null;
      const hit = recent.get(name);
      if (hit && clockMs() - hit.readAtMs < TEMPLATE_FILE_TTL_MS) return hit.source;
      const source = readTemplateFolder(directory, name);
      recent.set(name, { readAtMs: clockMs(), source });
      source.catch(() => recent.delete(name));
      return source;
    },
    async names() {
      const entries = await readdir(directory, { withFileTypes: true }).catch(() => []);
      return entries.filter((entry) => entry.isDirectory() && TEMPLATE_NAME.test(entry.name)).map((entry) => entry.name).sort();
    },
  };
}

/** The `templates/` folder of this repository. */
export const BUNDLED_TEMPLATES_DIR = path.resolve(__dirname, '..', '..', 'templates');
