import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDomainError } from '../../../engine/errors';
import { checkTemplate, MAX_BLOCK_DEPTH, renderEmail } from '../../../engine/mail/render';
import { BUNDLED_TEMPLATES_DIR, TEMPLATE_FILE_TTL_MS, fileTemplateCatalog } from '../../../engine/mail/templates';

function errorCode(render: () => unknown): string | undefined {
  try {
    render();
    return undefined;
  } catch (error) {
    return isDomainError(error) ? error.code : 'not a domain error';
  }
}

describe('email rendering', () => {
  it('renders the shipped account-credited template with the script vars', async () => {
    const template = await fileTemplateCatalog(BUNDLED_TEMPLATES_DIR).get('account-credited');
    const email = renderEmail(template!, { DOLLARS: '$60', reservation: { id: 'res_1', user: { name: 'Ada & Co' }, resource: { name: 'Account Top-Up' } } });
    expect(email.subject).toBe('Your account was credited with $60');
    expect(email.text).toContain('Hello Ada & Co,');
    expect(email.html).toContain('Hello Ada &amp; Co,');
  });

  it('names a missing variable instead of rendering an empty string', () => {
    expect(() => renderEmail({ subject: 'Credited {{DOLLARS}}', text: 'x' }, {})).toThrow(/DOLLARS/);
  });

  it(`accepts blocks nested ${MAX_BLOCK_DEPTH} deep and refuses one level more before parsing it`, () => {
    const nested = (depth: number) => `${'{{#if a}}'.repeat(depth)}x${'{{/if}}'.repeat(depth)}`;
    expect(() => checkTemplate({ subject: 's', text: nested(MAX_BLOCK_DEPTH) })).not.toThrow();
    expect(() => checkTemplate({ subject: 's', text: nested(MAX_BLOCK_DEPTH + 1) })).toThrow(expect.objectContaining({ code: 'template_too_deep', errors: [expect.objectContaining({ path: 'text' })] }));
    expect(() => renderEmail({ subject: 's', text: nested(2_000) }, { a: true })).toThrow(expect.objectContaining({ code: 'template_too_deep' }));
  });

  it('counts an else ({{^}} or {{else}}) as part of its block, not as a new one', () => {
    // Each if nests in the else of the one before, so the depth is exactly the limit.
    const withElses = `${'{{#if a}}y{{^}}'.repeat(MAX_BLOCK_DEPTH)}n${'{{/if}}'.repeat(MAX_BLOCK_DEPTH)}`;
    expect(renderEmail({ subject: 's', text: withElses }, { a: false }).text).toBe('n');
    expect(renderEmail({ subject: 's', text: withElses.replaceAll('{{^}}', '{{else}}') }, { a: true }).text).toBe('y');
  });

  it('reports a syntax error with its line', () => {
    expect(() => checkTemplate({ subject: 'ok', text: 'line one\n{{#if x}}unclosed' })).toThrow(/text/);
  });

  it('renders each source as written when templates repeat or change, and keeps refusing a broken one', () => {
    const variables = { name: 'Ada' };
    expect(renderEmail({ subject: 'Hi {{name}}', text: 'one {{name}}' }, variables).text).toBe('one Ada');
    expect(renderEmail({ subject: 'Hi {{name}}', text: 'one {{name}}' }, { name: 'Bob' }).text).toBe('one Bob');
    expect(renderEmail({ subject: 'Hi {{name}}', text: 'two {{name}}' }, variables).text).toBe('two Ada');
    // The same text is escaped as HTML and left alone as text: two different compilations.
    expect(renderEmail({ subject: 's', text: '{{name}}', html: '{{name}}' }, { name: 'a<b' })).toMatchObject({ text: 'a<b', html: 'a&lt;b' });
    for (let attempt = 0; attempt < 2; attempt += 1) expect(errorCode(() => renderEmail({ subject: 's', text: '{{#if x}}unclosed' }, {}))).toBe('template_syntax');
  });

  it('shows an edited template file once the short reuse period has passed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cf-templates-'));
    const folder = path.join(dir, 'greeting');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'subject.hbs'), 'Hello');
    fs.writeFileSync(path.join(folder, 'text.hbs'), 'first');
    let nowMs = 1_000_000;
    const catalog = fileTemplateCatalog(dir, () => nowMs);
    try {
      expect((await catalog.get('greeting'))?.text).toBe('first');
      fs.writeFileSync(path.join(folder, 'text.hbs'), 'second');
      expect((await catalog.get('greeting'))?.text).toBe('first');
      nowMs += TEMPLATE_FILE_TTL_MS;
      expect((await catalog.get('greeting'))?.text).toBe('second');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds no template for a name outside the naming rule', async () => {
    expect(await fileTemplateCatalog(BUNDLED_TEMPLATES_DIR).get('../etc/passwd')).toBeNull();
  });
});
