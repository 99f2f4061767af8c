import { modelOn } from '../store';
import { Schema, type Connection } from 'mongoose';
import { olderThan, pageOf } from '../cursor';
import { DomainError } from '../errors';
import { checkTemplate } from './render';
import type { TemplateCatalog, TemplateSource } from './templates';

interface TemplateDoc {
  _id: string;
  subject: string;
  text: string;
  html?: string;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

const templateSchema = new Schema<TemplateDoc>(
  {
    _id: String,
    subject: { type: String, required: true },
    text: { type: String, required: true },
    html: { type: String },
    version: { type: Number, required: true },
    createdAt: { type: Date, required: true, index: true },
    updatedAt: { type: Date, required: true },
  },
  { collection: 'email_templates', versionKey: false },
);

export interface StoredTemplate extends TemplateSource {
  source: 'stored' | 'bundled';
  version?: number;
  createdAt?: Date;
  updatedAt?: Date;
}

function toTemplate(doc: TemplateDoc): StoredTemplate {
  return { name: doc._id, subject: doc.subject, text: doc.text, ...(doc.html !== undefined ? { html: doc.html } : {}), source: 'stored', version: doc.version, createdAt: doc.createdAt, updatedAt: doc.updatedAt };
}

/**
 * Templates admins write through the API, beside the ones shipped in
 * `templates/`. Shipped names are reserved, so a template name always means
 * one thing. Every part is parsed at save, so a syntax error is a 422 with
 * its line rather than a failed run later.
 */
export function createTemplateStore(connection: Connection, bundled: TemplateCatalog, clock: () => Date = () => new Date()) {
  const templates = modelOn<TemplateDoc>(connection, 'EmailTemplate', templateSchema);

  async function assertNotBundled(name: string): Promise<void> {
    if (await bundled.get(name)) throw new DomainError('template_bundled', 'conflict', `"${name}" is a template shipped with Creditflow; choose another name.`, [{ path: 'name', message: 'reserved by a shipped template' }]);
  }

  /** Stored templates first would let an admin shadow a shipped one; shipped names are reserved instead. */
  const catalog: TemplateCatalog = {
    async get(name) {
      const shipped = await bundled.get(name);
      if (shipped) return shipped;
      const doc = await templates.findById(name).lean<TemplateDoc>();
      return doc ? toTemplate(doc) : null;
    },
    async names() {
      const stored = (await templates.find({}, { _id: 1 }).lean<Array<{ _id: string }>>()).map((doc) => doc._id);
      return [...new Set([...(await bundled.names()), ...stored])].sort();
    },
  };

  return {
    catalog,

    async create(template: TemplateSource): Promise<StoredTemplate> {
      checkTemplate(template);
      await assertNotBundled(template.name);
      const now = clock();
      try {
        await templates.create({ _id: template.name, subject: template.subject, text: template.text, ...(template.html !== undefined ? { html: template.html } : {}), version: 1, createdAt: now, updatedAt: now });
      } catch (error) {
        if ((error as { code?: number }).code === 11000) throw new DomainError('template_exists', 'conflict', `A template named "${template.name}" already exists.`, [{ path: 'name', message: 'already exists' }]);
        throw error;
      }
      return (await this.get(template.name));
    },

    async replace(template: TemplateSource): Promise<StoredTemplate> {
      checkTemplate(template);
      await assertNotBundled(template.name);
      const set = { subject: template.subject, text: template.text, updatedAt: clock(), ...(template.html !== undefined ? { html: template.html } : {}) };
      const updated = await templates.findOneAndUpdate(
        { _id: template.name },
        { $set: set, $inc: { version: 1 }, ...(template.html === undefined ? { $unset: { html: 1 } } : {}) },
        { returnDocument: 'after' },
      ).lean<TemplateDoc>();
      if (!updated) throw notFound(template.name);
      return this.get(template.name);
    },

    async get(name: string): Promise<StoredTemplate> {
      const shipped = await bundled.get(name);
      if (shipped) return { ...shipped, source: 'bundled' };
      const doc = await templates.findById(name).lean<TemplateDoc>();
      if (!doc) throw notFound(name);
      return toTemplate(doc);
    },

    async remove(name: string): Promise<void> {
      await assertNotBundled(name);
      const result = await templates.deleteOne({ _id: name });
      if (result.deletedCount === 0) throw notFound(name);
    },

    /** Shipped templates first (they never page), then stored ones newest first. */
    async list(options: { limit: number; cursor?: string }): Promise<{ items: StoredTemplate[]; nextCursor: string | null }> {
      const shipped = options.cursor ? [] : await Promise.all((await bundled.names()).map(async (name) => ({ ...(await bundled.get(name))!, source: 'bundled' as const })));
      const docs = await templates.find(olderThan(options.cursor, 'createdAt')).sort({ createdAt: -1, _id: -1 }).limit(options.limit + 1).lean<TemplateDoc[]>();
      const page = pageOf(docs, options.limit, (doc) => ({ at: doc.createdAt, id: doc._id }));
      return { items: [...shipped, ...page.items.map(toTemplate)], nextCursor: page.nextCursor };
    },

    async ensureIndexes(): Promise<void> {
      await templates.createIndexes();
    },
  };
}

function notFound(name: string): DomainError {
  return new DomainError('template_not_found', 'not_found', `No template named "${name}".`);
}

export type TemplateStore = ReturnType<typeof createTemplateStore>;
