// The leader compares state checksums with its followers at equal applied indexes: periodically,
// and after every snapshot it installed. Both digests are computed off the event loop (a worker
// reads the state in one read transaction). Different checksums at the same index mean the
// follower's state diverged (a damaged disk, an entry no leader wrote): the follower is marked
// desynced with the reason and the index, and a repair snapshot replaces its state. Digests at
// different indexes (writes went on meanwhile) compare nothing and are noted as skipped.
import type { Logger } from 'pino';
import type { NodeSpec, ReplicationConfig } from '../config/types.ts';
import type { Clock, DigestState, StateDigest } from './ports.ts';
import type { Transport } from './transport.ts';
import { decode, encode } from './wire.ts';

export interface StateCheck {
  at_ms: number;
  leader_index: number;
  follower_index: number | null;
  result: 'match' | 'mismatch' | 'skipped';
  detail: string;
}

export interface StateCompareOptions {
  cfg: ReplicationConfig;
  self: NodeSpec;
  digest: DigestState;
  transport: Transport;
  clock: Clock;
  logger: Logger;
  term: () => number;
  onMismatch(follower: string, detail: string): void;
}

/** After a snapshot install, the follower's state is compared this soon. */
export const state_compare_after_snapshot_ms = 2_000;

export class StateComparer {
  readonly last = new Map<string, StateCheck>();
  private running = false;

  constructor(private readonly o: StateCompareOptions) {}

  /** Compares each follower's state with the leader's (one comparison at a time). */
  async compare(followers: NodeSpec[]): Promise<void> {
    if (this.running || followers.length === 0) return;
    this.running = true;
    try {
      let mine: StateDigest;
      try {
        mine = await this.o.digest();
      } catch (err) {
        this.o.logger.warn({ err: (err as Error).message }, 'state digest failed; comparison skipped');
        return;
      }
      for (const f of followers) await this.compareOne(f, mine);
    } finally {
      this.running = false;
    }
  }

  private async compareOne(f: NodeSpec, mine: StateDigest): Promise<void> {
    const { cfg, self, clock } = this.o;
    const record = (result: StateCheck['result'], follower_index: number | null, detail: string): void => {
      this.last.set(f.id, { at_ms: clock.now(), leader_index: mine.index, follower_index, result, detail });
    };
    let theirs: { index: number; checksum: string };
    try {
      const body = encode({ cluster_id: cfg.cluster_id, term: this.o.term(), leader_id: self.id, index: mine.index });
      const res = await this.o.transport.post(f.address, '/_raft/digest', body, Math.max(cfg.append_timeout_ms, 30_000));
      if (res.status !== 200) {
        record('skipped', null, `follower answered ${res.status}`);
        return;
      }
      const d = decode(res.body) as { index?: unknown; checksum?: unknown };
      if (typeof d.index !== 'number' || typeof d.checksum !== 'string') {
        record('skipped', null, 'follower answered no digest');
        return;
      }
      theirs = { index: d.index, checksum: d.checksum };
    } catch (err) {
      record('skipped', null, (err as Error).message);
      return;
    }
    if (theirs.index !== mine.index) {
      record('skipped', theirs.index, `at index ${theirs.index}, the leader's digest is at ${mine.index}`);
      return;
    }
    if (theirs.checksum === mine.checksum) {
      record('match', theirs.index, `same state at index ${mine.index}`);
      return;
    }
    const detail = `state checksum differs at index ${mine.index} (leader ${mine.checksum.slice(0, 12)}, follower ${theirs.checksum.slice(0, 12)})`;
    record('mismatch', theirs.index, detail);
    this.o.logger.error({ follower: f.id, index: mine.index }, `follower state diverged: ${detail}`);
    this.o.onMismatch(f.id, detail);
  }
}
