import { DEFAULT_INTERVAL_MS, DEFAULT_RUNS_LIMIT, helpText, parseCommandLine } from '../../cli/args';
import { UsageError } from '../../cli/io';

function usageError(argv: string[]): UsageError {
  try {
    parseCommandLine(argv);
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error(`${argv.join(' ')} parsed without an error`);
}

describe('parsing a command line', () => {
  it('reads one- and two-word commands with their arguments and options in any order', () => {
    expect(parseCommandLine(['apply', 'a.yaml', 'folder/'])).toMatchObject({ command: { name: 'apply' }, positionals: ['a.yaml', 'folder/'], json: false });
    expect(parseCommandLine(['script', 'test', '--event', 'e.json', 'code.js', '--json'])).toMatchObject({ command: { name: 'script test' }, positionals: ['code.js'], event: 'e.json', json: true });
    expect(parseCommandLine(['--url', 'http://api:8080', 'events', 'send', 'e.json', '--signing-secret', 'cfs_x'])).toMatchObject({ command: { name: 'events send' }, url: 'http://api:8080', signingSecret: 'cfs_x' });
    expect(parseCommandLine(['runs', '-f', '--trigger', 'account-top-up', '--status', 'failed', '--limit', '5', '--interval', '0.5'])).toMatchObject({ follow: true, trigger: 'account-top-up', status: 'failed', limit: 5, intervalMs: 500 });
  });

  it('fills in the defaults of runs', () => {
    expect(parseCommandLine(['runs'])).toMatchObject({ limit: DEFAULT_RUNS_LIMIT, follow: false, intervalMs: DEFAULT_INTERVAL_MS });
  });

  it('answers --help with or without a command, even when its arguments are missing', () => {
    expect(parseCommandLine(['--help'])).toMatchObject({ help: true });
    expect(parseCommandLine(['--help']).command).toBeUndefined();
    expect(parseCommandLine(['dry-run', '-h'])).toMatchObject({ help: true, command: { name: 'dry-run' } });
    expect(helpText(parseCommandLine(['dry-run', '-h']).command)).toContain('usage: creditflow dry-run <event.json> [--trigger <id|key>]');
    expect(helpText()).toContain('events send');
  });

  it('names the unknown command, the missing subcommand and the option a command does not take', () => {
    expect(usageError([]).message).toBe('no command given');
    expect(usageError(['deploy']).message).toBe('unknown command "deploy"; commands: apply, script test, dry-run, runs, events send');
    expect(usageError(['events', 'recv']).message).toBe('"events" needs a subcommand: events send (got "recv")');
    expect(usageError(['apply', 'x.yaml', '--follow'])).toMatchObject({ message: '--follow is not an option of "apply"', command: 'apply', exitCode: 2 });
    expect(usageError(['runs', '--colour']).message).toContain("'--colour'");
  });

  it('counts arguments', () => {
    expect(usageError(['apply']).message).toBe('"apply" needs <file|folder>');
    expect(usageError(['dry-run', 'a.json', 'b.json']).message).toBe('"dry-run" takes one <event.json>; got also "b.json"');
    expect(usageError(['runs', 'extra']).message).toBe('"runs" takes no arguments; got also "extra"');
  });

  it('holds --limit to 1..200, --interval to 0.2..3600 s and --status to the run statuses, naming the value', () => {
    expect(parseCommandLine(['runs', '--limit', '1']).limit).toBe(1);
    expect(parseCommandLine(['runs', '--limit', '200']).limit).toBe(200);
    expect(usageError(['runs', '--limit', '0']).message).toBe('--limit must be a whole number from 1 to 200; got "0"');
    expect(usageError(['runs', '--limit', '201']).message).toContain('got "201"');
    expect(usageError(['runs', '--limit', '2.5']).message).toContain('got "2.5"');
    expect(parseCommandLine(['runs', '--interval', '0.2']).intervalMs).toBe(200);
    expect(parseCommandLine(['runs', '--interval', '3600']).intervalMs).toBe(3_600_000);
    expect(usageError(['runs', '--interval', '0.1']).message).toContain('got "0.1"');
    expect(usageError(['runs', '--interval', '3601']).message).toContain('got "3601"');
    expect(usageError(['runs', '--status', 'done']).message).toBe('--status must be one of running, completed, failed, cancelled, terminated; got "done"');
  });
});
