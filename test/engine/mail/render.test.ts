import { checkTemplate, renderEmail } from '../../../engine/mail/render';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../../../engine/mail/templates';

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

  it('reports a syntax error with its line', () => {
    expect(() => checkTemplate({ subject: 'ok', text: 'line one\n{{#if x}}unclosed' })).toThrow(/text/);
  });

  it('finds no template for a name outside the naming rule', async () => {
    expect(await fileTemplateCatalog(BUNDLED_TEMPLATES_DIR).get('../etc/passwd')).toBeNull();
  });
});
