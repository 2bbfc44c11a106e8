// VectorIndexes over a real state.db: write tracking for the leader's retraining, searches of
// empty or mismatched workspaces, the workspaces due for training, snapshots, centroid installs,
// and reloading from the tables.

import { describe, expect, it } from 'vitest';
import { exact_scan_size_max } from '@cairn/ivf';
import { openTestStore } from './testing.ts';
import { VectorIndexes } from './vectors.ts';

const v = (...xs: number[]): Float32Array => new Float32Array(xs);

describe('VectorIndexes', () => {
  it('records the ids written while tracked, for each tracker of the workspace, until each stops', () => {
    using t = openTestStore();
    const vx = new VectorIndexes(t.db);
    const one = vx.trackWrites('ws');
    const two = vx.trackWrites('ws');
    const other = vx.trackWrites('elsewhere');
    vx.put('ws', 'b', v(1, 0));
    vx.put('ws', 'a', v(0, 1));
    vx.put('ws', 'b', v(1, 1));
    vx.remove('ws', 'a');
    vx.remove('ws', 'never-there');
    expect(one.take()).toEqual(['b', 'a']);
    expect(one.take()).toEqual([]);
    one.stop();
    vx.put('ws', 'c', v(1, 0));
    // the other tracker still records after the first stopped
    expect(two.take()).toEqual(['b', 'a', 'c']);
    expect(other.take()).toEqual([]);
    two.stop();
    vx.put('ws', 'd', v(1, 0));
    const three = vx.trackWrites('ws');
    // a tracker stopped again after the workspace got a new one leaves the new one in place
    one.stop();
    two.stop();
    vx.put('ws', 'e', v(1, 0));
    expect(three.take()).toEqual(['e']);
  });

  it('answers nothing for a workspace without vectors, emptied, or asked with another dimension', () => {
    using t = openTestStore();
    const vx = new VectorIndexes(t.db);
    expect(vx.search('none', v(1, 0), 5)).toEqual([]);
    vx.put('ws', 'a', v(1, 0));
    vx.put('ws', 'b', v(0, 1));
    expect(vx.search('ws', v(1, 0), 5).map((h) => h.id)).toEqual(['a', 'b']);
    expect(vx.search('ws', v(1, 0), 5, 1).map((h) => h.id)).toEqual(['a', 'b']);
    expect(vx.search('ws', v(1, 0, 0), 5)).toEqual([]);
    vx.remove('ws', 'a');
    vx.remove('ws', 'b');
    expect(vx.size('ws')).toBe(0);
    expect(vx.search('ws', v(1, 0), 5)).toEqual([]);
    expect(vx.snapshot('ws')).toBeNull();
    expect(vx.snapshot('none')).toBeNull();
  });

  it('gives a snapshot of all the vectors or of those asked for', () => {
    using t = openTestStore();
    const vx = new VectorIndexes(t.db);
    vx.put('ws', 'a', v(1, 0));
    vx.put('ws', 'b', v(0, 1));
    expect(vx.snapshot('ws')?.ids).toEqual(['a', 'b']);
    expect(vx.snapshot('ws', ['b', 'zz'])?.ids).toEqual(['b']);
  });

  it('lists the workspaces past the exact-scan size as due for training, sorted, and not an emptied one', () => {
    using t = openTestStore();
    const vx = new VectorIndexes(t.db);
    t.db.transaction(() => {
      for (const ws of ['z', 'a']) for (let i = 0; i <= exact_scan_size_max; i++) vx.put(ws, `d${i}`, v(Math.cos(i), Math.sin(i)));
      vx.put('small', 'x', v(1, 0));
      vx.put('gone', 'x', v(1, 0));
      vx.remove('gone', 'x');
    })();
    expect(vx.retrainDue()).toEqual(['a', 'z']);
  });

  it('installs centroids and records how long it took and how many vectors it routed', () => {
    using t = openTestStore();
    const vx = new VectorIndexes(t.db);
    for (let i = 0; i < 10; i++) vx.put('ws', `d${i}`, v(i % 2, 1 - (i % 2)));
    expect(vx.lastInstall).toBeNull();
    const before = performance.now();
    vx.applyCentroids('ws', 2, v(1, 0, 0, 1));
    const took = performance.now() - before;
    expect(vx.lastInstall).toMatchObject({ ws: 'ws', vectors: 10, routed: 10 });
    expect(vx.lastInstall?.ms).toBeGreaterThanOrEqual(0);
    expect(vx.lastInstall?.ms).toBeLessThanOrEqual(took);
    expect(vx.search('ws', v(1, 0), 3).map((h) => h.id)).toEqual(['d1', 'd3', 'd5']);
  });

  it('reloads from the tables after reset, seeing what another instance wrote to them', () => {
    using t = openTestStore();
    const vx = new VectorIndexes(t.db);
    vx.put('ws', 'a', v(1, 0));
    const writer = new VectorIndexes(t.db);
    writer.put('ws', 'b', v(0, 1));
    expect(vx.size('ws')).toBe(1);
    vx.reset();
    expect(vx.size('ws')).toBe(2);
    expect(vx.search('ws', v(0, 1), 1).map((h) => h.id)).toEqual(['b']);
  });

  it('ends on a vector whose dimension differs from its workspace index', () => {
    using t = openTestStore();
    const vx = new VectorIndexes(t.db);
    vx.put('ws', 'a', v(1, 0));
    expect(() => vx.put('ws', 'b', v(1, 0, 0))).toThrow('invariant: workspace ws index dim 2, vector dim 3');
  });
});
