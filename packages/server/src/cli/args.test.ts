import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError, usageLine } from './args.ts';

const spec = { booleans: ['sync', 'help'], values: ['workspace'], lists: ['include'], aliases: { w: 'workspace' } };

describe('parseArgs', () => {
  it('reads values, repeated flags, aliases and positionals', () => {
    const p = parseArgs(['a', '-w', 'ws', '--include', '*.md', '--include=*.txt', '--sync', 'b', '--', '--c'], spec);
    expect(p.flags.get('workspace')).toBe('ws');
    expect(p.lists.get('include')).toEqual(['*.md', '*.txt']);
    expect(p.flags.get('sync')).toBe('true');
    expect(p.positional).toEqual(['a', 'b', '--c']);
  });

  it('refuses a flag the command does not declare, naming it', () => {
    expect(() => parseArgs(['--recursive'], spec)).toThrow(new UsageError('unknown flag --recursive'));
    expect(() => parseArgs(['-x'], spec)).toThrow(new UsageError('unknown flag -x'));
    expect(() => parseArgs(['--sync=yes'], spec)).toThrow(/takes no value/);
    expect(() => parseArgs(['--workspace'], spec)).toThrow(/needs a value/);
    expect(usageLine('ingest', new UsageError('unknown flag --recursive'))).toBe('cairn ingest: unknown flag --recursive; see `cairn ingest --help`\n');
  });

  it('takes other names a command accepts (serve: --section.key)', () => {
    const p = parseArgs(['--server.port', '9000'], { accepts: (n) => n.includes('.') });
    expect(p.flags.get('server.port')).toBe('9000');
  });

  it('in the older form (a list of booleans) takes any flag with a value', () => {
    expect(parseArgs(['--anything', 'v', '--json'], ['json']).flags).toEqual(new Map([['anything', 'v'], ['json', 'true']]));
  });
});
