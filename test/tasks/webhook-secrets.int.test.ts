import { createWebhookSecrets } from '../../engine/triggers/webhook-secrets';
import { openTestStore } from '../support/store';

const PEPPER = 'pepper-0123456789abcdef0123456789abcdef';
let store: Awaited<ReturnType<typeof openTestStore>>;
let secrets: ReturnType<typeof createWebhookSecrets>;

beforeAll(async () => {
  store = await openTestStore('webhook_secrets');
  secrets = createWebhookSecrets({ connection: store.connection, pepper: PEPPER });
  await secrets.ensureIndexes();
});

afterAll(async () => {
  await store?.close();
});

describe('triggers\' webhook secrets', () => {
  it('are stored sealed, and the newest of a trigger is current', async () => {
    const first = await secrets.issue('trg_a', 'key_admin');
    expect(first).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(await secrets.current('trg_a')).toBe(first);
    const rotated = await secrets.rotate('trg_a', 'key_admin');
    expect(await secrets.current('trg_a')).toBe(rotated);

    const stored = await store.connection.collection('trigger_webhook_secrets').find({ triggerId: 'trg_a' }).sort({ generation: 1 }).toArray();
    expect(stored.map((doc) => doc._id)).toEqual(['trg_a:1', 'trg_a:2']);
    expect(JSON.stringify(stored)).not.toContain('whsec_');
  });

  it('are missing for a trigger that never had one', async () => {
    expect(await secrets.current('trg_none')).toBeUndefined();
    expect(await secrets.rotate('trg_none', 'key_admin')).toMatch(/^whsec_/);
  });

  it('let one of two rotations at the same moment win and refuse the other', async () => {
    await secrets.issue('trg_race', 'key_admin');
    const outcomes = await Promise.allSettled([secrets.rotate('trg_race', 'a'), secrets.rotate('trg_race', 'b')]);
    const won = outcomes.filter((outcome): outcome is PromiseFulfilledResult<string> => outcome.status === 'fulfilled');
    const lost = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    // Both may also win, one after the other, when the store serialises them; then the later is current.
    expect(won.length).toBeGreaterThanOrEqual(1);
    for (const failure of lost) expect(failure.reason).toMatchObject({ code: 'webhook_secret_conflict' });
    expect(won.map((outcome) => outcome.value)).toContain(await secrets.current('trg_race'));
  });

  it('sign with the new secret in every process once a rotation has answered', async () => {
    const first = await secrets.issue('trg_lease', 'key_admin');
    // Another process (the worker) has read the current secret just before the rotation.
    const worker = createWebhookSecrets({ connection: store.connection, pepper: PEPPER });
    expect(await worker.current('trg_lease')).toBe(first);
    const rotated = await secrets.rotate('trg_lease', 'key_admin');
    expect(await worker.current('trg_lease')).toBe(rotated);
    expect(await secrets.current('trg_lease')).toBe(rotated);
  });

  it('give a trigger its first secret at once, even where its absence was read just before', async () => {
    expect(await secrets.current('trg_late')).toBeUndefined();
    const issued = await secrets.issue('trg_late', 'key_admin');
    expect(await secrets.current('trg_late')).toBe(issued);
  });

  it('cannot be read under another pepper, and say to rotate', async () => {
    await secrets.issue('trg_pepper', 'key_admin');
    const other = createWebhookSecrets({ connection: store.connection, pepper: `${PEPPER}-changed` });
    await expect(other.current('trg_pepper')).rejects.toMatchObject({ code: 'webhook_secret_unreadable', message: expect.stringContaining('/v1/triggers/trg_pepper/webhook-secret/rotate') });
  });
});
