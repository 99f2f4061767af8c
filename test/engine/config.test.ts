import { ConfigError, loadConfig } from '../../engine/config';

const base = { ADMIN_API_KEY: 'a-long-enough-admin-key' };

describe('configuration from the environment', () => {
  it('fills every default when only the admin key is given', () => {
    const config = loadConfig(base);
    expect(config).toMatchObject({ PORT: 8080, TEMPORAL_ADDRESS: '127.0.0.1:7233', TEMPORAL_TASK_QUEUE: 'creditflow', DEFAULT_UNIT: 'USD' });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('names the variable when a value is not usable', () => {
    expect(() => loadConfig({ ...base, PORT: 'abc' })).toThrow(/PORT/);
    expect(() => loadConfig({ ...base, PORT: '70000' })).toThrow(/PORT/);
    expect(() => loadConfig({ ...base, MONGODB_URI: 'postgres://x' })).toThrow(/MONGODB_URI/);
    expect(() => loadConfig({ ...base, SCRIPT_SANDBOX_BURST_POLL_US: '2001' })).toThrow(/SCRIPT_SANDBOX_BURST_POLL_US/);
    expect(() => loadConfig({ ...base, SCRIPT_SANDBOX_BURST_POLL_US: 'fast' })).toThrow(/SCRIPT_SANDBOX_BURST_POLL_US/);
  });

  it('requires the admin key and a minimum length for it', () => {
    expect(() => loadConfig({})).toThrow(/ADMIN_API_KEY is required/);
    expect(() => loadConfig({ ADMIN_API_KEY: 'short' })).toThrow(ConfigError);
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ ...base, PORT: '' }).PORT).toBe(8080);
    expect(loadConfig({ ...base, SCRIPT_SANDBOX_BURST_POLL_US: '' }).SCRIPT_SANDBOX_BURST_POLL_US).toBeUndefined();
    expect(loadConfig({ ...base, SCRIPT_SANDBOX_BURST_POLL_US: '0' }).SCRIPT_SANDBOX_BURST_POLL_US).toBe(0);
  });

  it('requires TLS certificate and key together', () => {
    expect(() => loadConfig({ ...base, TEMPORAL_TLS_CERT_PATH: '/x.pem' })).toThrow(/TEMPORAL_TLS_KEY_PATH/);
  });
});
