// Runs the scripts in testdata/*.txt (see interaction.ts for the commands). Each command's output
// must match the block under its `----`. Regenerate after an intended change with
//   RAFT_REWRITE=1 npx vitest run packages/raft/test/interaction.test.ts
// and read the diff: it is the behaviour change.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Interaction, parseScript, renderScript } from './interaction.ts';

const dir = join(import.meta.dirname, '..', 'testdata');
const rewrite = process.env.RAFT_REWRITE === '1';

describe('interaction scripts (testdata/*.txt)', () => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()) {
    it(file, () => {
      const path = join(dir, file);
      const blocks = parseScript(readFileSync(path, 'utf8'));
      expect(blocks.length).toBeGreaterThan(0);
      expect(blocks[0]?.preamble.some((l) => l.startsWith('#')), `${file} opens with a comment stating its goal`).toBe(true);
      const sim = new Interaction();
      const rendered = blocks.map((b) => ({ preamble: b.preamble, command: b.command, output: sim.run(b.command) }));
      if (rewrite) {
        writeFileSync(path, renderScript(rendered));
        return;
      }
      for (const [i, b] of blocks.entries()) {
        const got = rendered[i]?.output ?? '';
        expect(got === '' ? '(no output)' : got, `${file}: ${b.command}`).toBe(b.expected);
      }
    });
  }
});
