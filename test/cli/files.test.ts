import { signatureHeader } from '../../cli/api';
import { parseDataFile } from '../../cli/files';
import { createHmac } from 'node:crypto';

describe('reading resource files', () => {
  it('finds the line of a path in YAML, or of its nearest ancestor', () => {
    const file = parseDataFile('kind: trigger\nkey: a\ntasks:\n  - id: compute\n    code: x\n  - id: credit\n', 'a.yaml');
    expect(file.lineOf('tasks.1.id')).toBe(6);
    expect(file.lineOf('tasks.0.code')).toBe(5);
    expect(file.lineOf('tasks.1.inputTaskId')).toBe(6);
    expect(file.lineOf('wait.seconds')).toBe(1);
  });

  it('finds lines in JSON too, which it parses strictly', () => {
    const file = parseDataFile('{\n  "kind": "trigger",\n  "tasks": [\n    { "id": "a" }\n  ]\n}\n', 'a.json');
    expect(file.lineOf('tasks.0.id')).toBe(4);
    expect(() => parseDataFile("{ kind: 'trigger' }", 'a.json')).toThrow(/^a\.json: not valid JSON: /);
  });

  it('refuses duplicate keys and several documents, naming the line', () => {
    expect(() => parseDataFile('kind: trigger\nkind: template\n', 'a.yaml')).toThrow(/^a\.yaml:2:1: not valid YAML: Map keys must be unique/);
    expect(() => parseDataFile('kind: trigger\n---\nkind: template\n', 'a.yaml')).toThrow(/^a\.yaml:\d+:\d+: not valid YAML: /);
  });
});

describe('signing', () => {
  it('is t=<seconds>,v1=<hex HMAC-SHA256 of "t.body"> under the secret as issued', () => {
    const expected = createHmac('sha256', 'cfs_secret').update('1700000000.{"id":"e"}').digest('hex');
    expect(signatureHeader('cfs_secret', '{"id":"e"}', 1_700_000_000)).toBe(`t=1700000000,v1=${expected}`);
  });
});
