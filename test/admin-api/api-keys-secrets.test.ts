import { issueKey, issueSigningSecret, keyCrypto, keyIdOf } from '../../admin-api/api-keys/secrets';

const pepper = 'a-pepper-of-at-least-thirty-two-characters';

describe('API key secrets', () => {
  it('carry their key id visibly, so a lookup is one read by id', () => {
    const issued = issueKey();
    expect(issued.id).toMatch(/^key_[0-9a-f]{16}$/);
    expect(keyIdOf(issued.secret)).toBe(issued.id);
    expect(keyIdOf('test-admin-key-0123456789abcdef')).toBeNull();
    expect(keyIdOf(`${issued.secret}x`)).toBeNull();
  });

  it('are hashed under the pepper: another pepper does not match', () => {
    const { secret } = issueKey();
    const hash = keyCrypto(pepper).hashSecret(secret);
    expect(hash).not.toContain(secret);
    expect(keyCrypto(pepper).matchesHash(secret, hash)).toBe(true);
    expect(keyCrypto(`${pepper}!`).matchesHash(secret, hash)).toBe(false);
    expect(keyCrypto(pepper).matchesHash(issueKey().secret, hash)).toBe(false);
    expect(keyCrypto(pepper).matchesHash(secret, 'not-hex')).toBe(false);
  });

  it('seal signing secrets so only the same pepper opens them, and detect tampering', () => {
    const signingSecret = issueSigningSecret();
    const sealed = keyCrypto(pepper).sealSigningSecret(signingSecret);
    expect(sealed).not.toContain(signingSecret.slice(4));
    expect(keyCrypto(pepper).openSigningSecret(sealed)).toBe(signingSecret);
    expect(() => keyCrypto(`${pepper}!`).openSigningSecret(sealed)).toThrow();
    const [iv, tag, data] = sealed.split('.');
    expect(() => keyCrypto(pepper).openSigningSecret([iv, tag, `${data!.startsWith('A') ? 'B' : 'A'}${data!.slice(1)}`].join('.'))).toThrow();
  });
});
