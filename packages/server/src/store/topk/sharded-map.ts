// ShardedMap: a Map split into `map_shards` Maps by a hash of the key, made lazily.
//
// V8 grows a Map by rehashing every entry into a table twice the size, in one step. Measured on
// this machine (node 20, number keys, load ~3): 46 ms at 65,536 entries, 97 ms at 262,144, 654 ms
// at 1,048,576; string keys alike. An index built in slices of a few ms (passage-index.ts) holds
// one entry per passage and per term, so a single rehash held the event loop for 865 ms in the
// build over 1,051,280 passages. Split in 256, no rehash moves more than about 1/256 of the
// entries (4,096 of a million, a fraction of a ms).

/** Shards of every ShardedMap. */
export const map_shards = 256;
/** String keys hash at most this many characters (and their length). */
const hash_chars_max = 16;

function shardOfNumber(key: number): number {
  const s = key % map_shards;
  return s < 0 ? s + map_shards : s;
}

function shardOfString(key: string): number {
  // FNV-1a over the first characters and the length
  let h = 0x811c9dc5 ^ key.length;
  const n = Math.min(key.length, hash_chars_max);
  for (let i = 0; i < n; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % map_shards;
}

export class ShardedMap<K extends number | string, V> {
  private readonly shards: (Map<K, V> | undefined)[] = new Array<Map<K, V> | undefined>(map_shards).fill(undefined);
  private count = 0;

  private shard(key: K): number {
    return typeof key === 'number' ? shardOfNumber(key) : shardOfString(key);
  }

  get size(): number {
    return this.count;
  }

  get(key: K): V | undefined {
    return this.shards[this.shard(key)]?.get(key);
  }

  has(key: K): boolean {
    return this.shards[this.shard(key)]?.has(key) ?? false;
  }

  set(key: K, value: V): void {
    const s = this.shard(key);
    let m = this.shards[s];
    if (m === undefined) {
      m = new Map<K, V>();
      this.shards[s] = m;
    }
    const before = m.size;
    m.set(key, value);
    this.count += m.size - before;
  }

  delete(key: K): boolean {
    const m = this.shards[this.shard(key)];
    if (m === undefined || !m.delete(key)) return false;
    this.count -= 1;
    return true;
  }

  clear(): void {
    this.shards.fill(undefined);
    this.count = 0;
  }
}
