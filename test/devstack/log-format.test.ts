import { devLogFormatter } from '../../devstack/log-format';

const format = devLogFormatter(false);
const base = { level: 30, time: Date.UTC(2026, 11, 2, 10, 2, 11), pid: 4242, hostname: 'box', name: 'creditflow-api' };

describe('the dev console log format', () => {
  it('shows a request log as method, path, status and time on one line', () => {
    const line = JSON.stringify({ ...base, req: { id: 1, method: 'POST', url: '/v1/events', headers: { authorization: '[redacted]' } }, res: { statusCode: 202 }, responseTime: 8, msg: 'request completed' });
    const shown = format(line);
    expect(shown).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: POST \/v1\/events 202 \(8 ms\)$/);
    expect(shown).not.toContain('authorization');
  });

  it('keeps other fields on the same line and drops pid, hostname and name', () => {
    const shown = format(JSON.stringify({ ...base, level: 40, eventId: 'evt_1', runs: 0, msg: 'event dispatched' }));
    expect(shown).toMatch(/WARN: event dispatched \{"eventId":"evt_1","runs":0\}$/);
    expect(shown).not.toMatch(/4242|box|creditflow-api/);
    expect(shown.split('\n')).toHaveLength(1);
  });

  it('passes lines that are not JSON logs through unchanged', () => {
    expect(format('Temporal server started')).toBe('Temporal server started');
    expect(format('{not json')).toBe('{not json');
  });
});
