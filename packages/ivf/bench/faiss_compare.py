#!/usr/bin/python3
"""FAISS IndexIVFFlat baseline on the data exported by `npm run bench:ivf -- --export DIR`.

Same vectors, same queries, same nlist and nprobe (read from DIR/params.json unless given),
cosine as inner product over L2-normalised vectors, one thread, one query at a time.
Prints one JSON line with the same fields as the TypeScript benchmark.

Benchmark-only dependency: Debian's python3-faiss (1.7.3) + libopenblas0-pthread; run with
/usr/bin/python3. Debian builds FAISS without AVX2 ("OPTIMIZE GENERIC").
"""
import argparse
import json
import os
import time

import faiss
import numpy as np


def timed_search(index, queries, k):
    ms = []
    ids = np.empty((len(queries), k), dtype=np.int64)
    sims = np.empty((len(queries), k), dtype=np.float32)
    for i in range(len(queries)):
        q = queries[i:i + 1]
        t = time.perf_counter()
        d, l = index.search(q, k)
        ms.append((time.perf_counter() - t) * 1000)
        sims[i], ids[i] = d[0], l[0]
    return sims, ids, ms


def recall_at(sims, truth_sims):
    # ann-benchmarks: distance (1 - cosine) within the true k-th distance + 1e-3.
    kth = 1 - truth_sims[:, -1:]
    return float(np.mean(np.sum((1 - sims) <= kth + 1e-3, axis=1) / truth_sims.shape[1]))


def pct(ms, q):
    s = sorted(ms)
    return s[min(len(s) - 1, int(q * len(s)))]


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--dir', required=True)
    p.add_argument('--nlist', type=int)
    p.add_argument('--nprobe', type=int)
    p.add_argument('--centroids', choices=['faiss', 'ours'], default='faiss',
                   help='train with FAISS k-means (default) or install the exported centroids')
    p.add_argument('--k', type=int, default=10)
    a = p.parse_args()
    params = json.load(open(os.path.join(a.dir, 'params.json')))
    nlist = a.nlist or params['nlist']
    nprobe = a.nprobe or params['nprobe']
    faiss.omp_set_num_threads(1)

    base = np.load(os.path.join(a.dir, 'base.npy'), mmap_mode='r')
    n, dim = base.shape
    queries = np.ascontiguousarray(np.load(os.path.join(a.dir, 'queries.npy')))
    faiss.normalize_L2(queries)

    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    exact = faiss.IndexFlatIP(dim)
    chunk = 100_000
    train_ms = 0.0
    if a.centroids == 'ours':
        c = np.ascontiguousarray(np.load(os.path.join(a.dir, 'centroids.npy')))
        quantizer.add(c)
        index.is_trained = True
    else:
        # FAISS samples at most 256 * nlist training vectors itself; hand it those rows.
        rows = min(n, 256 * nlist)
        sample = np.array(base[:rows], dtype=np.float32)
        faiss.normalize_L2(sample)
        t = time.perf_counter()
        index.train(sample)
        train_ms = (time.perf_counter() - t) * 1000
        del sample
    t = time.perf_counter()
    for s in range(0, n, chunk):
        x = np.array(base[s:s + chunk], dtype=np.float32)
        faiss.normalize_L2(x)
        index.add(x)
        exact.add(x)
    add_ms = (time.perf_counter() - t) * 1000

    timed_search(exact, queries[:20], a.k)  # warm
    truth_sims, _, exact_ms = timed_search(exact, queries, a.k)
    index.nprobe = nprobe
    timed_search(index, queries, a.k)  # warm
    faiss.cvar.indexIVF_stats.reset()
    sims, _, ivf_ms = timed_search(index, queries, a.k)
    scanned = faiss.cvar.indexIVF_stats.ndis / len(queries)
    sizes = np.array([index.invlists.list_size(i) for i in range(nlist)])
    out = {
        'engine': 'faiss-ivfflat', 'faiss': faiss.__version__, 'centroids': a.centroids,
        'data': params.get('data'), 'metric': 'cosine', 'n': n, 'dim': dim, 'queries': len(queries),
        'nlist': nlist, 'nprobe': nprobe,
        'recall_at_10': round(recall_at(sims, truth_sims), 4),
        'ms_per_query_ivf': round(float(np.median(ivf_ms)), 3), 'p99_ms_ivf': round(pct(ivf_ms, 0.99), 3),
        'ms_per_query_exact': round(float(np.median(exact_ms)), 3), 'p99_ms_exact': round(pct(exact_ms, 0.99), 3),
        'speedup_vs_exact': round(float(np.median(exact_ms)) / float(np.median(ivf_ms)), 1),
        'vectors_scanned_per_query': round(scanned),
        'train_ms': round(train_ms), 'add_ms': round(add_ms),
        'bytes_per_vector': dim * 4 + 8,
        'imbalance': round(float(np.sum(sizes.astype(np.float64) ** 2) * nlist / n ** 2), 3),
        'list_size_max': int(sizes.max()),
        'threads': 1, 'build': faiss.get_compile_options(),
    }
    print(json.dumps(out))


if __name__ == '__main__':
    main()
