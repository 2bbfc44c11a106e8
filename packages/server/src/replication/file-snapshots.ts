// The bytes of snapshots on a real disk: the leader's consistent copy of state.db streamed in
// checksummed chunks (FileSnapshotShipper), and a follower's transfer written aside, verified and
// swapped in (FileSnapshotReceiver). Whether to take, send or install a snapshot is decided
// elsewhere (packages/raft, the drivers); these only move and check bytes.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ReplicationError } from './errors.ts';
import type { ReceivedSnapshot, ShippedSnapshot, SnapshotReceiver, SnapshotShipper, SnapshotTarget } from './ports.ts';
import type { Clock } from './ports.ts';
import { streamSnapshot } from './snapshot-sender.ts';
import { quickCheck } from './sqlite-worker.ts';
import { readApplied, removeDbFiles, removeRetiredDbFile, retireDbFile } from './state.ts';
import type { StateHolder, StateMachine } from './state.ts';
import type { Transport } from './transport.ts';

export interface FileShipperOptions {
  state: StateHolder<StateMachine>;
  transport: Transport;
  data_dir: string;
  cluster_id: string;
  leader_id: string;
  clock: Clock;
  snapshot_timeout_s: number;
  chunk_timeout_ms: number;
  /** Reports a failed removal of a copy (it is retried at the next snapshot). */
  warn?: (message: string) => void;
}

export class FileSnapshotShipper implements SnapshotShipper {
  constructor(private readonly o: FileShipperOptions) {}

  async ship(target: SnapshotTarget): Promise<ShippedSnapshot> {
    const started = performance.now();
    const cpuStarted = process.cpuUsage();
    const file = path.join(this.o.data_dir, `snapshot-out-${target.follower}.db`);
    try {
      const snap = await this.o.state.snapshotTo(file);
      const copied = performance.now();
      const sent = await streamSnapshot(
        {
          transport: this.o.transport,
          address: target.address,
          cluster_id: this.o.cluster_id,
          term: target.term,
          leader_id: this.o.leader_id,
          deadline: performance.now() + Math.max(0, target.deadline_ms - this.o.clock.now()),
          snapshot_timeout_s: this.o.snapshot_timeout_s,
          chunk_timeout_ms: this.o.chunk_timeout_ms,
          repair: target.repair,
          designated: target.designated,
        },
        { file, ...snap },
      );
      const cpu = process.cpuUsage(cpuStarted);
      return {
        index: snap.index,
        term: snap.term,
        bytes: snap.bytes,
        answer: sent.final,
        phases: {
          copy_ms: Math.round(copied - started),
          transfer_ms: Math.round(performance.now() - copied),
          chunks: sent.chunks,
          inflight: sent.inflight,
          prepare_ms: Math.round(sent.prepare_ms),
          wait_ms: Math.round(sent.wait_ms),
          quick_check_ms: Math.round(sent.check_ms),
          quick_check_wait_ms: Math.round(sent.check_wait_ms),
          // This process's CPU time (all threads) while the snapshot was made and sent.
          cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
          on_follower: sent.final['phases'],
        },
      };
    } finally {
      // Out of the way at once (a rename); deleted off the event loop: freeing a large file's
      // blocks takes a while, and the follower is waiting for appends.
      retireDbFile(file);
      removeRetiredDbFile(file).catch((err: unknown) => this.o.warn?.(`could not remove a snapshot copy ${file}: ${(err as Error).message}`));
    }
  }
}

interface Receiving {
  id: string;
  file: string;
  fd: number;
  offset: number;
  hash: crypto.Hash;
  last_index: number;
  last_term: number;
  /** performance.now() at the first chunk, for the phase timings. */
  started: number;
  write_ms: number;
  cpu: NodeJS.CpuUsage;
}

export class FileSnapshotReceiver implements SnapshotReceiver {
  private receiving: Receiving | null = null;

  constructor(
    private readonly state: StateHolder<StateMachine>,
    private readonly data_dir: string,
    private readonly warn: (message: string) => void,
  ) {}

  current(): { id: string; offset: number } | null {
    return this.receiving === null ? null : { id: this.receiving.id, offset: this.receiving.offset };
  }

  begin(id: string, last_index: number, last_term: number): void {
    this.abort('superseded by a new transfer');
    const file = path.join(this.data_dir, 'snapshot-in.db');
    removeDbFiles(file);
    const fd = fs.openSync(file, 'w');
    this.receiving = { id, file, fd, offset: 0, hash: crypto.createHash('sha256'), last_index, last_term, started: performance.now(), write_ms: 0, cpu: process.cpuUsage() };
  }

  write(data: Uint8Array): void {
    const r = this.receiving;
    if (r === null) throw new ReplicationError(409, 'snapshot_out_of_order', 'no snapshot transfer in progress');
    const started = performance.now();
    for (let written = 0; written < data.length; ) {
      written += fs.writeSync(r.fd, data, written, data.length - written, r.offset + written);
    }
    r.offset += data.length;
    r.hash.update(data);
    r.write_ms += performance.now() - started;
  }

  abort(reason: string): void {
    const r = this.receiving;
    if (r === null) return;
    this.receiving = null;
    try {
      fs.closeSync(r.fd);
    } catch {
      /* already closed */
    }
    removeDbFiles(r.file);
    this.warn(`snapshot transfer ${r.id} discarded: ${reason}`);
  }

  async finish(total_bytes: number, sha256: string, source_checked: boolean): Promise<ReceivedSnapshot> {
    const r = this.receiving;
    if (r === null) throw new ReplicationError(409, 'snapshot_out_of_order', 'no snapshot transfer in progress');
    const digest = r.hash.digest('hex');
    if (r.offset !== total_bytes || digest !== sha256) {
      this.abort('size or digest mismatch');
      throw new ReplicationError(400, 'bad_snapshot', `snapshot verification failed: ${r.offset}/${total_bytes} bytes, sha256 ${digest === sha256 ? 'ok' : 'mismatch'}`);
    }
    const received = performance.now();
    fs.fsyncSync(r.fd);
    fs.closeSync(r.fd);
    this.receiving = null;
    const synced = performance.now();
    // Verify it is the database it claims to be before anything is replaced. The bytes are the
    // sender's (sha256); a sender that ran quick_check on them says so, otherwise it runs here.
    try {
      const check = new Database(r.file, { readonly: true, fileMustExist: true });
      try {
        const pages = Number(check.pragma('page_count', { simple: true })) * Number(check.pragma('page_size', { simple: true }));
        if (pages !== total_bytes) throw new Error(`its pages span ${pages} bytes, the file has ${total_bytes}`);
        const at = readApplied(check);
        if (at.index !== r.last_index) throw new Error(`holds index ${at.index}, announced ${r.last_index}`);
      } finally {
        check.close();
      }
      if (!source_checked) {
        const ok = await quickCheck(r.file);
        if (ok !== 'ok') throw new Error(`quick_check: ${ok.slice(0, 200)}`);
      }
    } catch (err) {
      removeDbFiles(r.file);
      throw new ReplicationError(400, 'bad_snapshot', `snapshot is not a valid state database: ${(err as Error).message}`);
    }
    const checked = performance.now();
    const state = this.state;
    // No checkpoint of the state may run while its files are replaced (StateHolder.settled).
    await state.settled();
    return {
      index: r.last_index,
      term: r.last_term,
      bytes: total_bytes,
      install: () => state.install(r.file),
      discard: () => removeDbFiles(r.file),
      phases: {
        receive_ms: Math.round(received - r.started),
        write_ms: Math.round(r.write_ms),
        fsync_ms: Math.round(synced - received),
        check_ms: Math.round(checked - synced),
        quick_check: source_checked ? 'by the leader' : 'here',
        cpu_ms: Math.round(((c) => c.user + c.system)(process.cpuUsage(r.cpu)) / 1000),
      },
    };
  }
}
