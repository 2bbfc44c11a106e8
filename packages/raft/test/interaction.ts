// Scripted interactions (etcd-io/raft style): a leader and two followers driven by explicit
// commands, no randomness, one output block per command. The scripts live in testdata/*.txt;
// interaction.test.ts runs them and compares (or, with RAFT_REWRITE=1, rewrites) the output.
//
// Commands:
//   cluster [option=value ...]      start the cluster (LeaderOptions, append_timeout_ms, snapshot_timeout_ms)
//   propose N [leader|quorum|all]   N client writes in one log transaction
//   deliver [to=ID] [drop=(ID,..)] [reverse]
//                                   deliver the messages in flight now (answers wait for the next deliver);
//                                   drop loses those to or from the listed nodes; reverse delivers newest first
//   stabilize                       deliver until nothing is in flight
//   tick MS                         advance the clock; the leader times out sends and polls
//   crash ID | restart ID           a node loses its memory and its connections; restart boots it from disk
//   compact ID TAIL                 log compaction keeping TAIL entries
//   force-resync ID                 the operator asks for a snapshot to ID
//   status                          nodes (term, last, commit, snapshot) and the leader's view of each follower
// After every command the leader's driver runs (poll, send) and its sends are printed.
import type { LeaderOptions } from '../src/index.ts';
import { History, check } from './sim/history.ts';
import { FollowerNode, LEADER, LeaderNode, describeWire } from './sim/nodes.ts';
import type { LeaderTimeouts, Wire, WriteConcern } from './sim/nodes.ts';

interface Message {
  from: string;
  to: string;
  body: Wire;
}

/** Commands a script may run before giving up (a script is a test, not a soak). */
const stabilize_rounds_max = 1000;

export class Interaction {
  private now = 0;
  private readonly history = new History();
  private leader: LeaderNode | null = null;
  private followers: FollowerNode[] = [];
  private inflight: Message[] = [];
  private out: string[] = [];
  private commitSeen = new Map<string, number>();

  /** Runs one command line and returns its output. */
  run(line: string): string {
    this.out = [];
    const acked = this.leader?.counts.writes_acked ?? 0;
    const [cmd, ...args] = line.trim().split(/\s+/);
    switch (cmd) {
      case 'cluster':
        this.cluster(args);
        break;
      case 'propose':
        this.propose(args);
        break;
      case 'deliver':
        this.deliver(args);
        break;
      case 'stabilize':
        this.stabilize();
        break;
      case 'tick':
        this.now += Number(args[0] ?? NaN);
        check(Number.isFinite(this.now), `tick needs milliseconds: ${line}`);
        this.print(`t=${this.now}`);
        break;
      case 'crash':
        this.crash(one(args, line));
        break;
      case 'restart':
        this.restart(one(args, line));
        break;
      case 'compact':
        this.compact(args);
        break;
      case 'force-resync':
        this.L().core?.requestSnapshot(one(args, line));
        this.print(`leader: snapshot requested for ${one(args, line)}`);
        break;
      case 'status':
        this.status();
        break;
      default:
        throw new Error(`unknown command: ${line}`);
    }
    if (cmd !== 'status' && cmd !== 'cluster') this.drive();
    const L = this.leader;
    if (L !== null && L.counts.writes_acked > acked) {
      this.print(`leader: ${L.counts.writes_acked - acked} write(s) acknowledged (commit ${L.commit}, all ${L.core?.allIndex() ?? '-'})`);
    }
    this.check();
    return this.out.join('\n');
  }

  private cluster(args: string[]): void {
    const kv = parseOptions(args);
    const opts: LeaderOptions = {
      followers: ['f1', 'f2'],
      batch_entries_max: 10,
      batch_bytes_max: 1 << 20,
      inflight_batches_max: 2,
      resync_threshold: 10,
      lag_healthy_max: 2,
      failures_lagging: 2,
      silence_lagging_ms: 300,
      heartbeat_ms: 100,
      snapshots_inflight_max: 1,
      snapshot_backoff_ms_min: 100,
      snapshot_backoff_ms_max: 800,
      retry_backoff_ms_max: 400,
      quorum_acks: 1,
    };
    const timeouts: LeaderTimeouts = { append_timeout_ms: 200, snapshot_timeout_ms: 500, snapshot_extra_delay_ms_max: 0 };
    for (const [k, v] of kv) {
      if (k in timeouts) timeouts[k as keyof LeaderTimeouts] = v;
      else if (k in opts && k !== 'followers') (opts as unknown as Record<string, number>)[k] = v;
      else throw new Error(`unknown cluster option ${k}`);
    }
    this.leader = new LeaderNode(opts, timeouts, this.history);
    this.followers = opts.followers.map((id) => new FollowerNode(id, this.history, 'keep-matching-suffix'));
    this.leader.start();
    this.print(`leader: term ${this.leader.term}, NOOP at ${this.leader.log.lastIndex()}`);
    this.drive();
  }

  private propose(args: string[]): void {
    const n = Number(args[0]);
    const concern = (args[1] ?? 'quorum') as WriteConcern;
    check(Number.isSafeInteger(n) && n > 0 && ['leader', 'quorum', 'all'].includes(concern), `propose N [leader|quorum|all]`);
    const L = this.L();
    const payloads = Array.from({ length: n }, (_, i) => new Uint8Array([(L.log.lastIndex() + 1 + i) & 0xff]));
    const first = L.log.lastIndex() + 1;
    check(L.propose(payloads, concern), 'leader refused the proposal (down or too many pending)');
    this.print(`leader: ${n} write(s) at ${first}..${L.log.lastIndex()} (${concern})`);
  }

  private deliver(args: string[]): void {
    let to: string | null = null;
    let drop: string[] = [];
    let reverse = false;
    for (const a of args) {
      if (a.startsWith('to=')) to = a.slice(3);
      else if (a.startsWith('drop=')) drop = a.slice(5).replace(/[()]/g, '').split(',').filter(Boolean);
      else if (a === 'reverse') reverse = true;
      else throw new Error(`deliver: unknown argument ${a}`);
    }
    const now = this.inflight.filter((m) => to === null || m.to === to);
    this.inflight = this.inflight.filter((m) => !now.includes(m));
    if (reverse) now.reverse();
    if (now.length === 0) this.print('(nothing in flight)');
    for (const m of now) {
      if (drop.includes(m.to) || drop.includes(m.from)) {
        this.print(`dropped ${m.from} -> ${m.to}: ${describeWire(m.body)}`);
        continue;
      }
      this.handle(m);
    }
  }

  private stabilize(): void {
    for (let i = 0; this.inflight.length > 0; i++) {
      check(i < stabilize_rounds_max, 'stabilize did not settle');
      this.deliver([]);
      this.drive();
    }
  }

  private handle(m: Message): void {
    if (m.to === LEADER) {
      const L = this.L();
      const why = m.body.incarnation !== L.incarnation ? ' (for a previous life: ignored)' : !L.awaits(m.body) ? ' (timed out already: ignored)' : '';
      this.print(`leader <- ${m.from}: ${describeWire(m.body)}${why}`);
      if (L.up) L.onMessage(m.body, this.now);
      return;
    }
    const f = this.F(m.to);
    if (!f.up) return;
    const answer = m.body.kind === 'append' ? f.onAppend(m.body) : m.body.kind === 'snapshot' ? f.onSnapshot(m.body) : null;
    check(answer !== null, `${f.id} got a ${m.body.kind}`);
    this.print(`${f.id} <- ${describeWire(m.body)} => ${describeWire(answer)}`);
    this.inflight.push({ from: f.id, to: LEADER, body: answer });
  }

  private drive(): void {
    const L = this.L();
    if (!L.up) return;
    const timeouts = L.counts.timeouts;
    L.drive(
      this.now,
      (to, body) => {
        const down = !this.F(to).up;
        if (!down) this.inflight.push({ from: LEADER, to, body });
        this.print(`leader -> ${to}: ${describeWire(body)}${down ? ` (lost: ${to} is down)` : ''}`);
      },
      () => 0,
    );
    if (L.counts.timeouts > timeouts) this.print(`leader: ${L.counts.timeouts - timeouts} send(s) timed out`);
  }

  private crash(id: string): void {
    if (id === LEADER) {
      this.L().crash();
      this.inflight = this.inflight.filter((m) => m.to !== LEADER); // its answers are lost; its requests are on the wire
    } else {
      this.F(id).up = false;
      this.inflight = this.inflight.filter((m) => m.to !== id && m.from !== id);
    }
    this.print(`${id} crashed`);
  }

  private restart(id: string): void {
    if (id === LEADER) {
      const L = this.L();
      check(!L.up, 'leader is up');
      L.start();
      this.print(`leader: restarted in term ${L.term}, NOOP at ${L.log.lastIndex()}, commit ${L.commit}`);
    } else {
      const f = this.F(id);
      f.up = true;
      this.print(`${id} restarted: last ${f.log.lastIndex()}, commit ${f.commit}, term ${f.term}`);
    }
  }

  private compact(args: string[]): void {
    const [id, tail] = [args[0] ?? '', Number(args[1] ?? 0)];
    const log = id === LEADER ? this.L().log : this.F(id).log;
    if (id === LEADER) this.L().compact(tail);
    else this.F(id).compact(tail);
    this.print(`${id}: log starts after ${log.snapshotIndex()}`);
  }

  private status(): void {
    const L = this.L();
    this.print(`leader: ${L.up ? 'up' : 'down'} term ${L.term} last ${L.log.lastIndex()} commit ${L.commit} snapshot ${L.log.snapshotIndex()} pending ${L.pending.length}`);
    for (const f of this.followers) {
      this.print(`${f.id}: ${f.up ? 'up' : 'down'} term ${f.term} last ${f.log.lastIndex()} commit ${f.commit} snapshot ${f.log.snapshotIndex()}${f.state === L.state && f.commit === L.commit ? ' (state = leader)' : ''}`);
    }
    const core = L.core;
    if (core === null) return;
    for (const p of core.followers()) {
      this.print(`  ${p.id}: ${p.health} match ${p.match_index} next ${p.next_index} lag ${core.lag(p)} inflight ${p.inflight} failures ${p.consecutive_failures}${p.snapshotting ? ' snapshotting' : ''}`);
    }
  }

  /** The simulation's core checks, after every command. */
  private check(): void {
    const L = this.L();
    this.history.checkLog(LEADER, L.log);
    for (const f of this.followers) {
      this.history.checkLog(f.id, f.log);
      check(f.commit <= L.commit, `${f.id} applied beyond the leader's commit`);
      check(f.state === this.history.stateAt(f.commit), `${f.id} state differs from the state at its commit`);
    }
    for (const [id, commit] of [[LEADER, L.commit] as const, ...this.followers.map((f) => [f.id, f.commit] as const)]) {
      check(commit >= (this.commitSeen.get(id) ?? 0), `${id} commit went back`);
      this.commitSeen.set(id, commit);
    }
  }

  private print(line: string): void {
    this.out.push(line);
  }

  private L(): LeaderNode {
    check(this.leader !== null, 'run `cluster` first');
    return this.leader;
  }

  private F(id: string): FollowerNode {
    const f = this.followers.find((g) => g.id === id);
    check(f !== undefined, `no follower ${id}`);
    return f;
  }
}

function one(args: string[], line: string): string {
  check(args.length === 1 && args[0] !== undefined, `expected one node id: ${line}`);
  return args[0];
}

function parseOptions(args: string[]): [string, number][] {
  return args.map((a) => {
    const [k, v] = a.split('=');
    const n = Number(v);
    check(k !== undefined && k !== '' && Number.isFinite(n), `option must be name=number: ${a}`);
    return [k, n];
  });
}

/** A script: blocks of `command` lines, each followed by `----` and its expected output. */
export interface ScriptBlock {
  /** Comment lines (starting with #) and blank lines before the command, kept verbatim. */
  preamble: string[];
  command: string;
  expected: string;
}

export function parseScript(text: string): ScriptBlock[] {
  const lines = text.split('\n');
  const blocks: ScriptBlock[] = [];
  let preamble: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.startsWith('#') || line.trim() === '') {
      preamble.push(line);
      continue;
    }
    const command = line;
    const expected: string[] = [];
    if (lines[i + 1] === '----') {
      i += 2;
      while (i < lines.length && (lines[i] as string) !== '') expected.push(lines[i++] as string);
      i--; // the blank line after the output belongs to the next block's preamble
    }
    blocks.push({ preamble, command, expected: expected.join('\n') });
    preamble = [];
  }
  return blocks;
}

export function renderScript(blocks: { preamble: string[]; command: string; output: string }[]): string {
  const parts: string[] = [];
  for (const b of blocks) {
    parts.push(...b.preamble, b.command, '----', b.output === '' ? '(no output)' : b.output);
  }
  return parts.join('\n') + '\n';
}
