#!/bin/sh
# Side-by-side run: Cairn IVF (and exact scan) then FAISS IndexIVFFlat on the same exported data.
# usage: packages/ivf/bench/compare.sh N DIM DATA [more bench:ivf options]
# Example: packages/ivf/bench/compare.sh 100000 384 mixture --queries 500 --seed 1
# Needs Debian's python3-faiss and libopenblas0-pthread (benchmark only).
set -eu
n=${1:?N}; dim=${2:?DIM}; data=${3:?DATA}; shift 3
dir=${IVF_EXPORT_DIR:-/tmp/cairn-ivf-$data-$n-$dim}
here=$(dirname "$0")
cd "$here/../../.."
mkdir -p "$dir"
npm run -s bench:ivf -- --n "$n" --dim "$dim" --data "$data" --json --export "$dir" "$@" > "$dir/ours.json"
/usr/bin/python3 "$here/faiss_compare.py" --dir "$dir" > "$dir/faiss.json"
/usr/bin/python3 "$here/faiss_compare.py" --dir "$dir" --centroids ours > "$dir/faiss_our_centroids.json"
cat "$dir/ours.json" "$dir/faiss.json" "$dir/faiss_our_centroids.json"
/usr/bin/python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
o = json.load(open(f'{d}/ours.json')); f = json.load(open(f'{d}/faiss.json'))
print(json.dumps({'ratio_ours_over_faiss_ivf_ms': round(o['ms_per_query_ivf'] / f['ms_per_query_ivf'], 2),
                  'ratio_ours_over_faiss_exact_ms': round(o['ms_per_query_exact'] / f['ms_per_query_exact'], 2)}))
PY
