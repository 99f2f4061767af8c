import { reframeBanner } from '../../devstack/fuzz-api';

// CI reads a run's closing lines; schemathesis' pytest-style frames must not pass for pytest's "no tests ran".
describe('the fuzz step report', () => {
  it('writes the closing line without the pytest frame, keeping its counts and time', () => {
    expect(reframeBanner('============================= 2 warnings in 65.48s =============================')).toBe('[2 warnings, after 65.48 s]');
    expect(reframeBanner('=== 1 failure, 3 errors in 7s ===')).toBe('[1 failure, 3 errors, after 7 s]');
  });

  it('writes section titles in brackets', () => {
    expect(reframeBanner('=================================== SUMMARY ====================================')).toBe('[SUMMARY]');
  });

  it('leaves every other line as it is', () => {
    for (const line of ['  8330 generated, 8330 passed', 'API Operations:', '', '==', '= not a banner']) expect(reframeBanner(line)).toBe(line);
  });
});
