// Byte-pair encoding in O(n log n) per piece. js-tiktoken's own merge rescans every pair after
// each merge (and joins byte slices into strings to look them up), which is quadratic or worse
// in the length of one piece: a 100 KB base64 blob or minified line would hold the event loop
// for minutes. This computes the same merges: repeatedly merge the adjacent pair whose joined
// bytes have the lowest rank, the leftmost one on ties (a heap ordered by rank, then position),
// until no adjacent pair is a token. tokens.test.ts checks it against js-tiktoken's encode().

/** Rank lookup keyed by the bytes as a string of char codes 0-255 (tokens.ts's vocab()). */
export type Ranks = Map<string, number>;

interface Pair {
  rank: number;
  left: number;
  /** Versions of both parts when the pair was pushed; a stale pair is skipped. */
  leftVersion: number;
  rightVersion: number;
}

function less(a: Pair, b: Pair): boolean {
  return a.rank < b.rank || (a.rank === b.rank && a.left < b.left);
}

class PairHeap {
  private items: Pair[] = [];
  get size(): number {
    return this.items.length;
  }
  push(p: Pair): void {
    const items = this.items;
    items.push(p);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(items[i] as Pair, items[parent] as Pair)) break;
      [items[i], items[parent]] = [items[parent] as Pair, items[i] as Pair];
      i = parent;
    }
  }
  pop(): Pair | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && less(items[l] as Pair, items[m] as Pair)) m = l;
        if (r < items.length && less(items[r] as Pair, items[m] as Pair)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m] as Pair, items[i] as Pair];
        i = m;
      }
    }
    return top;
  }
}

function key(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i] as number);
  return s;
}

/** Token ids of one piece (already split by the tokenizer's pattern). */
export function bytePairEncode(bytes: Uint8Array, ranks: Ranks): number[] {
  const n = bytes.length;
  if (n === 0) return [];
  const whole = ranks.get(key(bytes, 0, n));
  if (whole !== undefined) return [whole];
  // Parts as a linked list over start offsets: part i covers [i, end[i]).
  const end = new Int32Array(n);
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  const version = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    end[i] = i + 1;
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  const heap = new PairHeap();
  const pushPair = (left: number): void => {
    const right = next[left] as number;
    if (right < 0) return;
    const rank = ranks.get(key(bytes, left, end[right] as number));
    if (rank !== undefined) heap.push({ rank, left, leftVersion: version[left] as number, rightVersion: version[right] as number });
  };
  for (let i = 0; i + 1 < n; i++) pushPair(i);
  while (heap.size > 0) {
    const p = heap.pop() as Pair;
    const left = p.left;
    const right = next[left] as number;
    if (right < 0 || version[left] !== p.leftVersion || version[right] !== p.rightVersion) continue;
    // Merge right into left.
    end[left] = end[right] as number;
    const after = next[right] as number;
    next[left] = after;
    if (after >= 0) prev[after] = left;
    version[left] = (version[left]) + 1;
    version[right] = -1;
    const before = prev[left] as number;
    if (before >= 0) pushPair(before);
    pushPair(left);
  }
  const out: number[] = [];
  for (let i = 0; i >= 0; i = next[i] as number) {
    const rank = ranks.get(key(bytes, i, end[i] as number));
    if (rank !== undefined) out.push(rank);
  }
  return out;
}
