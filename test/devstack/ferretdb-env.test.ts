import { ferretDbEnv } from '../../devstack/services';

describe("FerretDB's environment", () => {
  it('runs its garbage collector at GOGC=400 with a 1 GiB soft memory limit, keeping the rest of the environment', () => {
    const env = ferretDbEnv({ PATH: '/usr/bin', HOME: '/home/dev' });
    expect(env).toEqual({ PATH: '/usr/bin', HOME: '/home/dev', GOGC: '400', GOMEMLIMIT: '1GiB' });
  });

  it('leaves GOGC and GOMEMLIMIT to whoever set them', () => {
    expect(ferretDbEnv({ GOGC: '100', GOMEMLIMIT: '256MiB' })).toMatchObject({ GOGC: '100', GOMEMLIMIT: '256MiB' });
  });
});
