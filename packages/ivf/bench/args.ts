import { data_kinds } from './data.ts';
import type { DataKind } from './data.ts';

export interface BenchArgs {
  n: number;
  dim: number;
  queries: number;
  held_out: number;
  seed: number;
  json: boolean;
  data: DataKind;
  nprobe: number | undefined;
  nlist: number | undefined;
  recall_target: number;
  export_dir: string | undefined;
  drift: boolean;
  grow: boolean;
  load_test: boolean;
  crossover: boolean;
  db_path: string | undefined;
  load_only: boolean;
}

const usage = `usage: npm run bench:ivf -- [options]
  --n N            vectors (default 100000)
  --dim D          dimensions (default 384)
  --queries Q      timed queries (default 500)
  --held-out H     held-out queries used to pick nprobe (default 200)
  --seed S         data and training seed (default 1)
  --data KIND      mixture (default) | medium | low
  --nprobe P       fixed nprobe (default: smallest reaching --recall on the held-out queries)
  --nlist L        lists (default: suggestNlist(n))
  --recall R       recall@10 target for picking nprobe (default 0.95)
  --export DIR     write base.npy, queries.npy, held_out.npy, centroids.npy, params.json for faiss_compare.py
  --drift          train on half of the topics, insert the rest, report before/after the retrain policy
  --grow           train on n/4, insert the rest with and without the retrain policy
  --load-test      also persist to SQLite and time loadAll() (--db PATH, default a temp file)
  --load-only      only time loadAll() on the database at --db PATH (kept by --load-test --db PATH)
  --crossover      measure exact scan vs IVF for growing n and print the crossover
  --json           one JSON line on stdout (progress goes to stderr)`;

export function parseArgs(argv: string[]): BenchArgs {
  const a: BenchArgs = {
    n: 100_000, dim: 384, queries: 500, held_out: 200, seed: 1, json: false, data: 'mixture',
    nprobe: undefined, nlist: undefined, recall_target: 0.95, export_dir: undefined, drift: false, grow: false,
    load_test: false, crossover: false, db_path: undefined, load_only: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) fail(`${flag} needs a value`);
      return v;
    };
    const int = (min: number): number => {
      const v = Number(value());
      if (!Number.isInteger(v) || v < min) fail(`${flag} must be an integer >= ${min}`);
      return v;
    };
    switch (flag) {
      case '--n': a.n = int(1); break;
      case '--dim': a.dim = int(1); break;
      case '--queries': a.queries = int(1); break;
      case '--held-out': a.held_out = int(1); break;
      case '--seed': a.seed = int(0); break;
      case '--nprobe': a.nprobe = int(1); break;
      case '--nlist': a.nlist = int(1); break;
      case '--recall': {
        const r = Number(value());
        if (!(r > 0 && r <= 1)) fail('--recall must be in (0, 1]');
        a.recall_target = r;
        break;
      }
      case '--data': {
        const d = value();
        if (!data_kinds.includes(d as DataKind)) fail(`--data must be one of ${data_kinds.join(', ')}`);
        a.data = d as DataKind;
        break;
      }
      case '--export': a.export_dir = value(); break;
      case '--db': a.db_path = value(); break;
      case '--drift': a.drift = true; break;
      case '--grow': a.grow = true; break;
      case '--load-test': a.load_test = true; break;
      case '--load-only': a.load_only = true; break;
      case '--crossover': a.crossover = true; break;
      case '--json': a.json = true; break;
      case '--help': case '-h': process.stdout.write(`${usage}\n`); process.exit(0); break;
      default: fail(`unknown option ${flag}`);
    }
  }
  return a;
}

function fail(message: string): never {
  process.stderr.write(`bench:ivf: ${message}\n${usage}\n`);
  process.exit(2);
}
