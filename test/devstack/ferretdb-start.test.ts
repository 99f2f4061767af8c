import { ferretDbEnv, ferretDbSocket, ferretDbUri } from '../../devstack/services';

describe("FerretDB's environment", () => {
  it('runs its garbage collector at GOGC=400 with a 1 GiB soft memory limit, on one processor, keeping the rest of the environment', () => {
    const env = ferretDbEnv({ PATH: '/usr/bin', HOME: '/home/dev' });
    expect(env).toEqual({ PATH: '/usr/bin', HOME: '/home/dev', GOGC: '400', GOMEMLIMIT: '1GiB', GOMAXPROCS: '1' });
  });

  it('leaves GOGC, GOMEMLIMIT and GOMAXPROCS to whoever set them', () => {
    expect(ferretDbEnv({ GOGC: '100', GOMEMLIMIT: '256MiB', GOMAXPROCS: '4' })).toMatchObject({ GOGC: '100', GOMEMLIMIT: '256MiB', GOMAXPROCS: '4' });
  });
});

describe("the stack's URI of FerretDB", () => {
  it('is the unix socket in its data directory, percent-encoded as the MongoDB driver reads a socket host', () => {
    expect(ferretDbSocket('/tmp/creditflow-test-x1/ferretdb')).toBe('/tmp/creditflow-test-x1/ferretdb/mongodb.sock');
    expect(ferretDbUri('/tmp/creditflow-test-x1/ferretdb', 27017, 'creditflow')).toBe('mongodb://%2Ftmp%2Fcreditflow-test-x1%2Fferretdb%2Fmongodb.sock/creditflow');
  });

  it('is its TCP port when the socket path would be too long for a unix socket', () => {
    const deep = `/home/dev/${'projects/'.repeat(12)}creditflow/.devstack/ferretdb`;
    expect(ferretDbSocket(deep)).toBeUndefined();
    expect(ferretDbUri(deep, 27017, 'creditflow')).toBe('mongodb://127.0.0.1:27017/creditflow');
  });
});
