import { assert } from './errors.ts';

/**
 * Bounded top-k by score (higher is better). Ties are broken by id (smaller id wins), so the
 * result does not depend on the order vectors sit in their lists. The root is the worst kept hit.
 */
export class TopK {
  readonly k: number;
  private readonly scores: Float64Array;
  private readonly ids: string[];
  private count = 0;

  constructor(k: number) {
    assert(Number.isInteger(k) && k > 0, 'top-k capacity must be a positive integer');
    this.k = k;
    this.scores = new Float64Array(k);
    this.ids = new Array<string>(k).fill('');
  }

  get size(): number {
    return this.count;
  }

  /** The score a candidate must beat to enter (-Infinity while not full). */
  threshold(): number {
    return this.count < this.k ? -Infinity : this.scores[0]!;
  }

  push(score: number, id: string): void {
    if (this.count < this.k) {
      let i = this.count++;
      // Sift up.
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!worse(score, id, this.scores[parent]!, this.ids[parent]!)) break;
        this.scores[i] = this.scores[parent]!;
        this.ids[i] = this.ids[parent]!;
        i = parent;
      }
      this.scores[i] = score;
      this.ids[i] = id;
      return;
    }
    if (!worse(this.scores[0]!, this.ids[0]!, score, id)) return;
    // Replace root, sift down.
    let i = 0;
    const n = this.count;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && worse(this.scores[r]!, this.ids[r]!, this.scores[l]!, this.ids[l]!)) c = r;
      if (!worse(this.scores[c]!, this.ids[c]!, score, id)) break;
      this.scores[i] = this.scores[c]!;
      this.ids[i] = this.ids[c]!;
      i = c;
    }
    this.scores[i] = score;
    this.ids[i] = id;
  }

  /** Hits best first. */
  sorted(): { id: string; score: number }[] {
    const out: { id: string; score: number }[] = [];
    for (let i = 0; i < this.count; i++) out.push({ id: this.ids[i]!, score: this.scores[i]! });
    out.sort((a, b) => (b.score - a.score) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return out;
  }
}

/** True when hit a ranks below hit b. */
function worse(sa: number, ia: string, sb: number, ib: string): boolean {
  return sa < sb || (sa === sb && ia > ib);
}
