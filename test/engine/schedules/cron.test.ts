import { cronProblem, timezoneProblem } from '../../../engine/schedules/cron';

describe('a schedule\'s cron expression', () => {
  it.each(['0 6 * * *', '*/15 * * * *', '0 9-17 * * MON-FRI', '30 2 1,15 * *', '0 0 * JAN,jul *', '5/10 0 * * 0', '0 12 * * 7', '0 0 29 2 *'])('accepts "%s"', (cron) => {
    expect(cronProblem(cron)).toBeNull();
  });

  it.each([
    ['0 6 * *', /5 fields/],
    ['0 6 * * * *', /5 fields/],
    ['60 6 * * *', /minute: 60 is outside 0-59/],
    ['0 24 * * *', /hour: 24 is outside 0-23/],
    ['0 0 0 * *', /day of month: 0 is outside 1-31/],
    ['0 0 * 13 *', /month: 13 is outside 1-12/],
    ['0 0 * * 8', /day of week: 8 is outside 0-7/],
    ['0 0 * * FOO', /day of week: "FOO" is not a number or a name/],
    ['*/0 * * * *', /step/],
    ['0 17-9 * * *', /runs backwards/],
    ['0 0 L * *', /not a number/],
    ['0 0 ? * MON', /malformed|not a number/],
    ['0 0 1 * MON', /not both/],
    ['0 0 31 2 *', /never occurs/],
    ['@daily', /5 fields/],
  ])('refuses "%s"', (cron, message) => {
    expect(cronProblem(cron)).toMatch(message);
  });
});

describe('a schedule\'s time zone', () => {
  it.each(['UTC', 'Europe/Nicosia', 'America/Argentina/Buenos_Aires', 'Etc/GMT+5', 'US/Pacific'])('accepts %s', (zone) => {
    expect(timezoneProblem(zone)).toBeNull();
  });

  it.each(['Mars/Olympus_Mons', 'europe/nicosia', '+02:00', 'Europe/Nicosia ', ''])('refuses "%s"', (zone) => {
    expect(timezoneProblem(zone)).not.toBeNull();
  });
});
