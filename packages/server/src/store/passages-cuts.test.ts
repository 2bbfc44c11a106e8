// Where the passage splitter cuts, on small hand-written documents whose passages are known
// exactly: which lines make a heading (ATX, setext, man page sections) and when a heading starts
// a passage, how a block over the target is cut (line ends, then sentence ends, then spaces), the
// offsets and line ranges of each passage, and the target's own limits.

import { describe, expect, it } from 'vitest';
import { assertPassagesCover, splitPassages } from './passages.ts';
import type { Passage } from './passages.ts';
import { countTokens } from './tokens.ts';

/** The text of each passage, in order. */
function pieces(text: string, ps: Passage[]): string[] {
  return ps.map((p) => text.slice(p.start, p.end));
}

/** A paragraph of exactly 16 tokens (a quarter of a target of 64), blank line included. */
const para16 = 'The leader appends entries to its log and sends them to every follower node.\n\n';
/** The same paragraph one token shorter. */
const para15 = 'The leader appends entries to its log and sends them to every follower.\n\n';
const body = 'The follower writes the entries and acknowledges them.\n';

describe('splitPassages: headings', () => {
  it('starts a passage at a heading once the one before holds a quarter of the target, not before', () => {
    expect(countTokens(para16)).toBe(16);
    expect(countTokens(para15)).toBe(15);
    const section = `## Section two\n${body}`;
    const at16 = para16 + section;
    const ps = splitPassages(at16, 64);
    expect(pieces(at16, ps)).toEqual([para16, section]);
    expect(ps).toEqual([
      { start: 0, end: 78, line_start: 1, line_end: 2, tokens: 16 },
      { start: 78, end: 148, line_start: 3, line_end: 4, tokens: countTokens(section) },
    ]);
    const at15 = para15 + section;
    expect(splitPassages(at15, 64)).toEqual([{ start: 0, end: at15.length, line_start: 1, line_end: 4, tokens: countTokens(at15) }]);
  });

  it.each(['===========', '-----------'])('takes a line over %s as a heading (setext)', (underline) => {
    const section = `Replication\n${underline}\n${body}`;
    const text = para16 + section;
    const ps = splitPassages(text, 64);
    expect(pieces(text, ps)).toEqual([para16, section]);
    expect(ps.map((p) => [p.line_start, p.line_end])).toEqual([[1, 2], [3, 5]]);
  });

  it('takes only a single line over the underline as a setext heading, not any second line or a longer paragraph', () => {
    for (const para of [
      'The follower writes the entries\nand acknowledges them to the leader.\n',
      'The follower writes the entries\nand acknowledges them.\n---\n',
    ]) {
      const text = para16 + para;
      expect(pieces(text, splitPassages(text, 64)), JSON.stringify(para)).toEqual([text]);
    }
  });

  it('ends a paragraph at a line of only spaces, as at an empty line', () => {
    const first = 'The leader appends entries to its log and sends them to every follower node.\n   \n';
    const section = `Replication\n===========\n${body}`;
    const text = first + section;
    expect(pieces(text, splitPassages(text, 64))).toEqual([first, section]);
  });

  it.each([
    ['SEE ALSO', true],
    ['.SH DESCRIPTION', true],
    ['FILES AND ENVIRONMENT VARIABLES OF RAFTD', true], // 40 characters: the longest section name
    ['ENVIRONMENT VARIABLES AND CONFIGURATIONS', true], // 40
    ['ENVIRONMENT VARIABLES AND THE CONFIG FILE', false], // 41
    ['FILES AND ENVIRONMENT VARIABLES OF THE DB', false], // 41, and seven words
    ['A', false], // one capital (an option letter), not a name
    ['See the RFC for details.', false], // capitals inside a sentence
    ['See the RFC for the details of the protocol.', false],
  ])('takes the man page line %j as a section heading: %s', (line, heading) => {
    const section = `${line}\n       raft(7), paxos(7)\n`;
    const text = para16 + section;
    expect(pieces(text, splitPassages(text, 64))).toEqual(heading ? [para16, section] : [text]);
  });

  it('keeps headings in a row together with the section they open', () => {
    const h1 = '# The leader appends entries to its log and sends them\n';
    expect(countTokens(h1)).toBeGreaterThanOrEqual(32 / 4);
    const text = `${h1}## Followers\n${body}`;
    expect(splitPassages(text, 32)).toEqual([{ start: 0, end: text.length, line_start: 1, line_end: 3, tokens: countTokens(text) }]);
  });

  it('puts the rest of a heading longer than the target with the start of its section', () => {
    const heading = '# The leader appends new entries to its log and then sends them to every follower in the cluster\n';
    const section = 'The follower writes them to disk and then replies to the leader.\n';
    const text = heading + section;
    const ps = splitPassages(text, 16);
    expect(pieces(text, ps)).toEqual([
      '# The leader appends new entries to its log and then sends them to every',
      ' follower in the cluster\nThe follower writes them to disk and then replies to the',
      ' leader.\n',
    ]);
    expect(ps.map((p) => [p.line_start, p.line_end, p.tokens])).toEqual([[1, 1, 16], [1, 2, 16], [2, 2, 2]]);
  });

  it('keeps a heading that ends the document in the last passage', () => {
    const text = 'Entries are appended.\n\n## Followers\n';
    expect(splitPassages(text, 64)).toEqual([{ start: 0, end: text.length, line_start: 1, line_end: 3, tokens: countTokens(text) }]);
  });
});

describe('splitPassages: blocks over the target', () => {
  it('cuts a paragraph at line ends, packing whole lines up to the target, with their line ranges', () => {
    const lines = [
      'The leader appends the entry to its log\n', // 10 tokens
      'and sends it to every follower in turn\n', // 9
      'which writes it to disk and replies\n', // 8
      'and once a majority has replied\n', // 7
      'the entry is committed and applied\n', // 7
      'to the state machine on every node\n', // 8
    ];
    const text = lines.join('');
    const ps = splitPassages(text, 16);
    expect(pieces(text, ps)).toEqual([lines[0], lines[1], `${lines[2]}${lines[3]}`, `${lines[4]}${lines[5]}`]);
    expect(ps).toEqual([
      { start: 0, end: 40, line_start: 1, line_end: 1, tokens: 10 },
      { start: 40, end: 79, line_start: 2, line_end: 2, tokens: 9 },
      { start: 79, end: 147, line_start: 3, line_end: 4, tokens: 15 },
      { start: 147, end: 217, line_start: 5, line_end: 6, tokens: 15 },
    ]);
  });

  const sentences =
    'The leader sends new entries to each follower.  Every follower appends them to its own log; then it replies: done. ' +
    'The value of pi is about 3.14159 in this example. Why does it matter? It does not.\n';

  it('cuts a line over the target after sentence punctuation (one space or two), never inside a number', () => {
    expect(pieces(sentences, splitPassages(sentences, 16))).toEqual([
      'The leader sends new entries to each follower.',
      '  Every follower appends them to its own log; then it replies:',
      ' done.',
      ' The value of pi is about 3.14159 in this example.',
      ' Why does it matter? It does not.\n',
    ]);
  });

  it('cuts a long last line of a paragraph at its sentences too', () => {
    const first = 'A short first line.\n';
    const text = first + sentences;
    const ps = splitPassages(text, 16);
    expect(pieces(text, ps)).toEqual([
      `${first}The leader sends new entries to each follower.`,
      '  Every follower appends them to its own log; then it replies:',
      ' done.',
      ' The value of pi is about 3.14159 in this example.',
      ' Why does it matter? It does not.\n',
    ]);
    expect(ps.map((p) => [p.line_start, p.line_end])).toEqual([[1, 2], [2, 2], [2, 2], [2, 2], [2, 2]]);
  });

  it('cuts a line without punctuation before a run of spaces (one space or two)', () => {
    const words = 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen';
    for (const gap of [' ', '  ']) {
      const rest = `${gap}seventeen eighteen nineteen twenty\n`;
      const text = words + rest;
      expect(countTokens(words)).toBe(16);
      expect(pieces(text, splitPassages(text, 16)), JSON.stringify(gap)).toEqual([words, rest]);
    }
  });

  it('keeps a word longer than the target whole at the end of a text, with no empty passage after it', () => {
    const word = 'x'.repeat(600);
    const text = `aa bb\n${word}\n`;
    const ps = splitPassages(text, 16);
    assertPassagesCover(ps, text.length, 'long last word');
    expect(ps[0]).toEqual({ start: 0, end: 6, line_start: 1, line_end: 1, tokens: countTokens('aa bb\n') });
    expect(ps[1]).toMatchObject({ start: 6, end: 606, line_start: 2, line_end: 2 });
    for (const p of ps) expect(p.end).toBeGreaterThan(p.start);
  });

  it('gives units back when the whole passage counts more tokens than its units summed', () => {
    // The blank lines after the paragraph are cut between its units; joined again, their
    // whitespace is one longer pre-token and the three units count 17, over the target.
    const head = '# Raft\nraft log raft log raft log raft log raft log\n \n';
    const text = `${head}\n \n`;
    expect(countTokens(text)).toBe(17);
    expect(splitPassages(text, 16)).toEqual([
      { start: 0, end: head.length, line_start: 1, line_end: 3, tokens: countTokens(head) },
      { start: head.length, end: text.length, line_start: 4, line_end: 5, tokens: countTokens('\n \n') },
    ]);
  });

  it('keeps a code block of exactly the target whole, though its lines counted one by one come to more', () => {
    const code = '```js\nfunction add(a, b) {\n  return sum;\n```\n';
    expect(countTokens(code)).toBe(16);
    expect(splitPassages(code, 16)).toEqual([{ start: 0, end: code.length, line_start: 1, line_end: 4, tokens: 16 }]);
  });

  it('gives a text of blank lines one passage', () => {
    expect(splitPassages('\n\n\n', 16)).toEqual([{ start: 0, end: 3, line_start: 1, line_end: 3, tokens: countTokens('\n\n\n') }]);
    expect(splitPassages(' \n\t\n', 16)).toEqual([{ start: 0, end: 4, line_start: 1, line_end: 2, tokens: countTokens(' \n\t\n') }]);
  });
});

describe('splitPassages: the target', () => {
  it('accepts every integer target from 16 to 8192 and refuses the rest with the range', () => {
    for (const target of [16, 8192]) expect(splitPassages('one line', target)).toHaveLength(1);
    for (const target of [15, 8193, 16.5, Number.NaN]) {
      expect(() => splitPassages('one line', target)).toThrow(new RangeError(`passage target: expected an integer in [16, 8192], got ${target}`));
    }
  });
});
