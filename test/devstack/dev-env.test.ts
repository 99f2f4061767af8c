import { parseDevEnv } from '../../devstack/dev-env';

describe('parseDevEnv', () => {
  it('uses the documented default ports when nothing is set', () => {
    expect(parseDevEnv({})).toMatchObject({ PORT: 8080, FERRETDB_PORT: 27017, TEMPORAL_PORT: 7233, TEMPORAL_UI_PORT: 8233, SMTP_PORT: 1025, MAILDEV_UI_PORT: 1080 });
  });

  it('treats an empty value as unset', () => {
    const env = parseDevEnv({ PORT: '', MONGODB_URI: ' ' });
    expect(env.PORT).toBe(8080);
    expect(env.MONGODB_URI).toBeUndefined();
  });

  it('rejects a port that is not a number, naming the variable and its value', () => {
    expect(() => parseDevEnv({ PORT: 'abc' })).toThrow(/PORT=abc: expected a port number from 1 to 65535/);
  });

  it('accepts the port range bounds and rejects just outside them', () => {
    expect(parseDevEnv({ PORT: '1', TEMPORAL_PORT: '65535' })).toMatchObject({ PORT: 1, TEMPORAL_PORT: 65535 });
    expect(() => parseDevEnv({ PORT: '0' })).toThrow(/PORT=0/);
    expect(() => parseDevEnv({ TEMPORAL_PORT: '65536' })).toThrow(/TEMPORAL_PORT=65536/);
  });

  it('accepts services given by env', () => {
    const env = parseDevEnv({ MONGODB_URI: 'mongodb://db.internal:27017/creditflow', TEMPORAL_ADDRESS: 'temporal.internal:7233', SMTP_URL: 'smtp://mail.internal:25' });
    expect(env).toMatchObject({ MONGODB_URI: 'mongodb://db.internal:27017/creditflow', TEMPORAL_ADDRESS: 'temporal.internal:7233', SMTP_URL: 'smtp://mail.internal:25' });
  });

  it('rejects malformed service addresses, naming each variable', () => {
    const parse = () => parseDevEnv({ MONGODB_URI: 'localhost:27017', TEMPORAL_ADDRESS: 'http://temporal:7233', SMTP_URL: 'mail:25' });
    expect(parse).toThrow(/MONGODB_URI=localhost:27017: .*TEMPORAL_ADDRESS=http:\/\/temporal:7233: .*SMTP_URL=mail:25: /);
  });

  it('rejects two services on the same port', () => {
    expect(() => parseDevEnv({ PORT: '1025' })).toThrow(/SMTP_PORT=<default>: port 1025 is also used by PORT/);
  });

  it('never prints the admin key it rejects', () => {
    expect(() => parseDevEnv({ ADMIN_API_KEY: 'short-secret' })).toThrow(/ADMIN_API_KEY=<hidden>: expected at least 16 characters/);
  });
});
