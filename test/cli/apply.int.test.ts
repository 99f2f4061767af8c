import { randomUUID } from 'node:crypto';
import { stringify } from 'yaml';
import { ApiClient, type ApiResponse } from '../../cli/api';
import { applyAll, loadResources } from '../../cli/apply';
import { documentedTopUpTrigger } from '../../engine/triggers/documented-top-up';
import { TEST_ADMIN_KEY } from '../support/api';
import { startCliStack, type CliStack } from './harness';

let stack: CliStack;

beforeAll(async () => {
  stack = await startCliStack('cli_apply');
});

afterAll(async () => {
  await stack?.close();
});

function triggerYaml(key: string, changes: { waitSeconds?: number; script?: string; template?: string } = {}): string {
  const trigger = documentedTopUpTrigger({ name: `Top-up ${key}`, resourceId: key, waitSeconds: changes.waitSeconds ?? 60, ...(changes.script ? { script: changes.script } : {}) });
  if (changes.template) trigger.tasks[2] = { ...trigger.tasks[2], template: changes.template };
  return stringify({ kind: 'trigger', key, ...trigger });
}

const newKey = () => `cli-${randomUUID().slice(0, 8)}`;

describe('creditflow apply', () => {
  it('creates a trigger, then finds it by key and leaves it unchanged', async () => {
    const key = newKey();
    const file = stack.write(`${key}/trigger.yaml`, triggerYaml(key));
    const created = await stack.cf(['apply', file]);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    expect(created.stdout).toMatch(new RegExp(`^trigger ${key} \\(${file}\\): created as trg_[0-9a-f]+\\n$`));

    const again = await stack.cf(['apply', file]);
    expect(again.stdout).toBe(`trigger ${key} (${file}): unchanged\n`);
    const found = await stack.api.request('GET', `/v1/triggers?key=${key}`);
    expect(found.body.items).toHaveLength(1);
    expect(found.body.items[0].version).toBe(1);
  });

  it('saves an edit as the next version and prints what changed', async () => {
    const key = newKey();
    const file = stack.write(`${key}.yaml`, triggerYaml(key));
    await stack.cf(['apply', file]);
    const edited = triggerYaml(key, { waitSeconds: 120, script: 'let amount = 7000;\nreturn { amount_cents: amount, vars: { DOLLARS: "$70" } };' });
    stack.write(`${key}.yaml`, edited);

    const updated = await stack.cf(['apply', file]);
    expect(updated.code).toBe(0);
    const lines = updated.stdout.split('\n');
    expect(lines[0]).toBe(`trigger ${key} (${file}): updated v1 -> v2`);
    expect(lines).toContain('    wait.seconds: 60 -> 120');
    expect(lines).toContain('    tasks.0.code:');
    expect(lines).toContain('      - if (reservation.price_int === 5000) amount = 6000;');
    expect(lines).toContain('      + let amount = 7000;');
    const current = (await stack.api.request('GET', `/v1/triggers?key=${key}`)).body.items[0];
    expect(current).toMatchObject({ version: 2, wait: { seconds: 120 } });

    const json = await stack.cf(['apply', file, '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ results: [expect.objectContaining({ kind: 'trigger', name: key, action: 'unchanged', version: 2, changes: [] })] });
  });

  it('applies templates before the triggers that use them, and updates a template with a diff', async () => {
    const key = newKey();
    const template = `tpl-${key}`;
    // Named so that sorted order would read the trigger first.
    stack.write(`${key}/a-trigger.yaml`, triggerYaml(key, { template }));
    stack.write(`${key}/b-template.yaml`, stringify({ kind: 'template', name: template, subject: 'Credited {{DOLLARS}}', text: 'Hello, you got {{DOLLARS}}.' }));
    const first = await stack.cf(['apply', key]);
    expect(first.code).toBe(0);
    expect(first.stdout.split('\n').slice(0, 2)).toEqual([`template ${template} (${key}/b-template.yaml): created`, expect.stringMatching(new RegExp(`^trigger ${key} \\(${key}/a-trigger.yaml\\): created as trg_`))]);

    stack.write(`${key}/b-template.yaml`, stringify({ kind: 'template', name: template, subject: 'You got {{DOLLARS}}', text: 'Hello, you got {{DOLLARS}}.' }));
    const second = await stack.cf(['apply', key]);
    expect(second.stdout).toContain(`template ${template} (${key}/b-template.yaml): updated v1 -> v2\n    subject: "Credited {{DOLLARS}}" -> "You got {{DOLLARS}}"\n`);
    expect(second.stdout).toContain(`trigger ${key} (${key}/a-trigger.yaml): unchanged`);
    expect((await stack.api.request('GET', `/v1/templates/${template}`)).body.subject).toBe('You got {{DOLLARS}}');
  });

  it('names the file, the line and the path the API refused, and says what was and was not applied', async () => {
    const key = newKey();
    stack.write(`${key}/1-good.yaml`, triggerYaml(`${key}-1`));
    const bad = triggerYaml(`${key}-2`).replace('inputTaskId: compute\n    createIfMissing', 'inputTaskId: notify\n    createIfMissing');
    stack.write(`${key}/2-bad.yaml`, bad);
    stack.write(`${key}/3-later.yaml`, triggerYaml(`${key}-3`));
    const failed = await stack.cf(['apply', key]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain(`trigger ${key}-1 (${key}/1-good.yaml): created`);
    const badLine = bad.split('\n').findIndex((line) => line.includes('inputTaskId: notify')) + 1;
    expect(failed.stderr).toContain(`error: ${key}/2-bad.yaml: trigger ${key}-2: creating it was refused (422 trigger_invalid)`);
    expect(failed.stderr).toContain(`  ${key}/2-bad.yaml:${badLine}: tasks.1.inputTaskId: must name an earlier task`);
    expect(failed.stderr).toContain(`applied before the failure: ${key}/1-good.yaml (created)\nnot applied: ${key}/2-bad.yaml, ${key}/3-later.yaml\n`);
    expect((await stack.api.request('GET', `/v1/triggers?key=${key}-3`)).body.items).toEqual([]);
  });

  it('refuses a file that is not YAML or JSON with its line, before applying anything', async () => {
    const key = newKey();
    stack.write(`${key}/1-good.yaml`, triggerYaml(key));
    stack.write(`${key}/2-broken.yaml`, 'kind: trigger\nkey: x\n- name\n');
    const yaml = await stack.cf(['apply', key]);
    expect(yaml.code).toBe(1);
    expect(yaml.stderr).toMatch(new RegExp(`^error: ${key}/2-broken.yaml:3:1: not valid YAML: Implicit keys need to be on a single line`));
    expect(yaml.stderr).toContain('nothing was applied');
    expect((await stack.api.request('GET', `/v1/triggers?key=${key}`)).body.items).toEqual([]);

    const json = stack.write(`${key}-broken.json`, '{\n  "kind": "trigger",\n}\n');
    const jsonFailure = await stack.cf(['apply', json]);
    expect(jsonFailure.stderr).toContain(`error: ${json}: not valid JSON: `);
    expect(jsonFailure.stderr).toContain('line 3 column 1');
  });

  it('refuses a file without a kind, a trigger without a key, and a path that does not exist', async () => {
    const noKind = stack.write('no-kind.yaml', 'name: Something\non:\n  types: [request.created]\n');
    expect(await stack.cf(['apply', noKind])).toMatchObject({ code: 1, stderr: expect.stringContaining('error: no-kind.yaml: cannot be applied\n  no-kind.yaml:1: kind: must be "trigger", "template", "group" or "package" (it has none)') });
    const noKey = stack.write('no-key.yaml', 'kind: trigger\nname: Something\n');
    expect((await stack.cf(['apply', noKey])).stderr).toContain('error: no-key.yaml: trigger: cannot be applied\n  no-key.yaml:1: key: a trigger file needs a key');
    expect(await stack.cf(['apply', 'nowhere/'])).toMatchObject({ code: 1, stderr: expect.stringContaining('error: nowhere/: no such file or folder') });
  });

  it('refuses a key that is not a slug, naming its line', async () => {
    const file = stack.write('bad-key.yaml', triggerYaml('Not A Slug'));
    const failed = await stack.cf(['apply', file]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/bad-key\.yaml:\d+: key: must be lowercase letters/);
  });

  it('refuses to overwrite an edit saved between reading the trigger and saving the file', async () => {
    const key = newKey();
    const file = stack.write(`${key}.yaml`, triggerYaml(key));
    await stack.cf(['apply', file]);
    stack.write(`${key}.yaml`, triggerYaml(key, { waitSeconds: 90 }));
    /** Saves another edit just before the CLI's PUT leaves. */
    class RacedClient extends ApiClient {
      override async call<T>(method: string, urlPath: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>> {
        if (method === 'PUT') await stack.api.request('PUT', urlPath, { ...(body as object), name: 'Edited meanwhile' });
        return super.call<T>(method, urlPath, body, headers);
      }
    }
    const outcome = await applyAll(new RacedClient({ url: stack.api.baseUrl, key: TEST_ADMIN_KEY, keySource: 'test' }), loadResources(stack.dir, [file]));
    expect(outcome.failure?.error.message).toMatch(new RegExp(`^${file}: trigger ${key}: trigger trg_[0-9a-f]+ changed on the server while it was being applied \\(it was at version 1\\); nothing was saved`));
    expect((await stack.api.request('GET', `/v1/triggers?key=${key}`)).body.items[0]).toMatchObject({ version: 2, name: 'Edited meanwhile' });
  });
});

describe('creditflow apply with customer groups', () => {
  it('creates a group before the triggers of the same folder, then finds it by id and updates what changed', async () => {
    const id = newKey();
    const folder = `${id}-folder`;
    stack.write(`${folder}/group.yaml`, stringify({ kind: 'group', id, name: 'Agents', openingBalance: { CREDIT: 10 } }));
    stack.write(`${folder}/trigger.yaml`, triggerYaml(`${id}-trigger`));
    const created = await stack.cf(['apply', folder]);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    expect(created.stdout.split('\n')[0]).toBe(`group ${id} (${folder}/group.yaml): created`);
    expect(created.stdout.split('\n')[1]).toMatch(new RegExp(`^trigger ${id}-trigger .*: created as trg_`));
    expect((await stack.cf(['apply', `${folder}/group.yaml`])).stdout).toBe(`group ${id} (${folder}/group.yaml): unchanged\n`);

    stack.write(`${folder}/group.yaml`, stringify({ kind: 'group', id, name: 'Agents', openingBalance: { CREDIT: 25 }, policy: { CREDIT: { minCredit: 5 } } }));
    const updated = await stack.cf(['apply', `${folder}/group.yaml`]);
    expect(updated.stdout.split('\n')).toEqual(expect.arrayContaining([`group ${id} (${folder}/group.yaml): updated`, '    openingBalance.CREDIT: 10 -> 25']));
    expect((await stack.api.request('GET', `/v1/groups/${id}`)).body).toMatchObject({ openingBalance: { CREDIT: 25 }, policy: { CREDIT: { minCredit: 5 } } });
  });

  it('names the file, line and field of a group the API refuses, and one without an id', async () => {
    const id = newKey();
    const bad = stack.write(`${id}-bad.yaml`, stringify({ kind: 'group', id, name: 'Bad', policy: { USD: { minCredit: -1 } } }));
    const refused = await stack.cf(['apply', bad]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('min_credit_invalid');
    expect(refused.stderr).toContain('policy.USD.minCredit');
    const noId = stack.write(`${id}-no-id.yaml`, stringify({ kind: 'group', name: 'No id' }));
    expect((await stack.cf(['apply', noId])).stderr).toContain('id: a group file needs the group id');
  });
});
