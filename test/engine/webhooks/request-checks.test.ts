import { webhookAllowedHostsSchema } from '../../../engine/webhooks/allowed-hosts';
import {
  checkWebhookHeaders, checkWebhookUrl, WEBHOOK_MAX_HEADER_NAME_LENGTH, WEBHOOK_MAX_HEADER_VALUE_LENGTH, WEBHOOK_MAX_HEADERS,
  WEBHOOK_MAX_URL_LENGTH,
} from '../../../engine/webhooks/request-checks';

describe('checking a webhook URL when a trigger is saved', () => {
  it('accepts http and https URLs to host names and public addresses', () => {
    expect(checkWebhookUrl('https://hooks.example.com/in?x=1', [])).toBeNull();
    expect(checkWebhookUrl('http://93.184.216.34:8080/in', [])).toBeNull();
    expect(checkWebhookUrl('https://[2606:4700:4700::1111]/in', [])).toBeNull();
  });

  it(`accepts a URL of ${WEBHOOK_MAX_URL_LENGTH} characters and refuses one more`, () => {
    const base = 'https://hooks.example.com/';
    const exact = base + 'p'.repeat(WEBHOOK_MAX_URL_LENGTH - base.length);
    expect(checkWebhookUrl(exact, [])).toBeNull();
    expect(checkWebhookUrl(`${exact}p`, [])).toContain(`at most ${WEBHOOK_MAX_URL_LENGTH} characters`);
  });

  it('refuses other schemes, relative URLs and credentials', () => {
    expect(checkWebhookUrl('ftp://hooks.example.com/', [])).toContain('http: or https:');
    expect(checkWebhookUrl('file:///etc/passwd', [])).toContain('http: or https:');
    expect(checkWebhookUrl('javascript:alert(1)', [])).toContain('http: or https:');
    expect(checkWebhookUrl('/relative/path', [])).toContain('absolute');
    expect(checkWebhookUrl('https://user:pass@hooks.example.com/', [])).toContain('credentials');
    expect(checkWebhookUrl('https://user@hooks.example.com/', [])).toContain('credentials');
  });

  it('refuses a literal internal address, in any spelling, unless its host is allowed', () => {
    expect(checkWebhookUrl('http://127.0.0.1:3000/', [])).toContain('127.0.0.1 is refused (loopback)');
    expect(checkWebhookUrl('http://169.254.169.254/latest/meta-data/', [])).toContain('link-local');
    expect(checkWebhookUrl('http://[::ffff:10.0.0.1]/', [])).toContain('IPv4-mapped private');
    expect(checkWebhookUrl('http://0177.0.0.1/', [])).toContain('loopback');
    expect(checkWebhookUrl('http://[::]/', [])).toContain('unspecified');
    expect(checkWebhookUrl('http://127.0.0.1:3000/', ['127.0.0.1:3000'])).toBeNull();
    expect(checkWebhookUrl('http://127.0.0.1:3001/', ['127.0.0.1:3000'])).toContain('loopback');
    expect(checkWebhookUrl('http://[::1]/', ['[::1]'])).toBeNull();
    expect(checkWebhookUrl('http://[::1]/', ['[0:0::1]:80'])).toBeNull();
    expect(checkWebhookUrl('https://[::1]/', ['[::1]:80'])).toContain('loopback');
  });

  it('leaves host names to the send-time check, since what they resolve to changes', () => {
    expect(checkWebhookUrl('http://internal.corp/', [])).toBeNull();
  });
});

describe('checking webhook headers when a trigger is saved', () => {
  const headers = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`X-Header-${i}`, 'v']));

  it(`accepts ${WEBHOOK_MAX_HEADERS} headers and refuses ${WEBHOOK_MAX_HEADERS + 1}`, () => {
    expect(checkWebhookHeaders(headers(WEBHOOK_MAX_HEADERS))).toBeNull();
    expect(checkWebhookHeaders(headers(WEBHOOK_MAX_HEADERS + 1))).toContain(`at most ${WEBHOOK_MAX_HEADERS} headers`);
  });

  it(`accepts a value of ${WEBHOOK_MAX_HEADER_VALUE_LENGTH} characters and refuses one more`, () => {
    expect(checkWebhookHeaders({ 'X-Long': 'v'.repeat(WEBHOOK_MAX_HEADER_VALUE_LENGTH) })).toBeNull();
    expect(checkWebhookHeaders({ 'X-Long': 'v'.repeat(WEBHOOK_MAX_HEADER_VALUE_LENGTH + 1) })).toContain('X-Long must be at most');
  });

  it(`accepts a name of ${WEBHOOK_MAX_HEADER_NAME_LENGTH} characters and refuses one more`, () => {
    expect(checkWebhookHeaders({ ['x'.repeat(WEBHOOK_MAX_HEADER_NAME_LENGTH)]: 'v' })).toBeNull();
    expect(checkWebhookHeaders({ ['x'.repeat(WEBHOOK_MAX_HEADER_NAME_LENGTH + 1)]: 'v' })).toContain('HTTP token');
  });

  it('refuses names that are not HTTP tokens and values with CR, LF or control characters', () => {
    expect(checkWebhookHeaders({ 'X Space': 'v' })).toContain('HTTP token');
    expect(checkWebhookHeaders({ 'X-Colon:': 'v' })).toContain('HTTP token');
    expect(checkWebhookHeaders({ '': 'v' })).toContain('HTTP token');
    expect(checkWebhookHeaders({ 'X-A': 'one\r\nX-Injected: two' })).toContain('CR, LF');
    expect(checkWebhookHeaders({ 'X-A': 'one\ntwo' })).toContain('CR, LF');
    expect(checkWebhookHeaders({ 'X-A': 'nul\0' })).toContain('CR, LF');
    expect(checkWebhookHeaders({ 'X-A': 'tab\tand café' })).toBeNull();
  });

  it.each(['Creditflow-Signature', 'idempotency-key', 'HOST', 'Content-Length', 'Transfer-Encoding', 'Connection'])('refuses the reserved header %s', (name) => {
    expect(checkWebhookHeaders({ [name]: 'mine' })).toContain('set by Creditflow');
  });

  it('refuses a header given twice in different case', () => {
    expect(checkWebhookHeaders({ 'X-Tenant': 'a', 'x-tenant': 'b' })).toContain('given twice');
  });
});

describe('WEBHOOK_ALLOWED_HOSTS', () => {
  it('reads a comma-separated list, trimmed and lower-cased, with empty items dropped', () => {
    expect(webhookAllowedHostsSchema.parse(' Hooks.Internal , 127.0.0.1:8080,,[::1]:9000 ')).toEqual(['hooks.internal', '127.0.0.1:8080', '[::1]:9000']);
    expect(webhookAllowedHostsSchema.parse('')).toEqual([]);
    expect(webhookAllowedHostsSchema.default([]).parse(undefined)).toEqual([]);
  });

  it.each(['http://hooks.internal', 'hooks.internal/path', 'hooks.internal:0', 'hooks.internal:65536', '[not-v6]', 'user@hooks.internal'])('refuses %s', (entry) => {
    const result = webhookAllowedHostsSchema.safeParse(`ok.internal,${entry}`);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toContain('is not a host or host:port');
  });

  it('accepts port 65535 and refuses 65536', () => {
    expect(webhookAllowedHostsSchema.safeParse('hooks.internal:65535').success).toBe(true);
    expect(webhookAllowedHostsSchema.safeParse('hooks.internal:65536').success).toBe(false);
  });

  it('accepts 100 entries and refuses 101', () => {
    const entries = (count: number) => Array.from({ length: count }, (_, i) => `host-${i}.internal`).join(',');
    expect(webhookAllowedHostsSchema.safeParse(entries(100)).success).toBe(true);
    expect(webhookAllowedHostsSchema.safeParse(entries(101)).success).toBe(false);
  });
});
