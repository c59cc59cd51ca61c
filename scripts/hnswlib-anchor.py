#!/usr/bin/env python3
"""hnswlib on the same data as scripts/bench-vector, for `bench-vector --anchor`.

    scripts/hnswlib-anchor.py BASE.fvecs QUERY.fvecs --metric cosine --m 16 \
        --ef-construction 200 --ef 32,64,128 --k 10 --labels OUT_PREFIX

hnswlib (`pip install hnswlib numpy`) with one thread, the same M,
ef_construction and ef, ids 0..n in base order. Times the build (one
add_items call) and, per ef, one knn_query call over every query (hnswlib's
fastest way to be called: no per-query Python overhead is counted against
it). Writes each ef's result ids to OUT_PREFIX.ef<EF> as little-endian u64,
k per query, for the caller to score against its own ground truth, and
prints one JSON line: {"version", "build_s", "search": [{"ef", "qps"}]}.
"""

import argparse
import json
import sys
import time


def read_fvecs(path, np):
    raw = np.fromfile(path, dtype="<i4")
    if raw.size == 0:
        sys.exit(f"{path}: no vectors")
    dims = int(raw[0])
    if dims <= 0 or raw.size % (dims + 1) != 0:
        sys.exit(f"{path}: not an .fvecs file of one dimension count")
    rows = raw.reshape(-1, dims + 1)
    if (rows[:, 0] != dims).any():
        sys.exit(f"{path}: vectors of different dimension counts")
    return rows[:, 1:].view("<f4").astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base")
    ap.add_argument("query")
    ap.add_argument("--metric", choices=["cosine", "l2", "dot"], default="cosine")
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--ef", default="64")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--labels", required=True)
    a = ap.parse_args()
    try:
        import hnswlib
        import numpy as np
    except ImportError as e:
        sys.exit(f"hnswlib-anchor: {e}; install with: pip install hnswlib numpy")

    base, queries = read_fvecs(a.base, np), read_fvecs(a.query, np)
    if base.shape[1] != queries.shape[1]:
        sys.exit("base and queries differ in dimension count")
    space = {"cosine": "cosine", "l2": "l2", "dot": "ip"}[a.metric]
    idx = hnswlib.Index(space=space, dim=base.shape[1])
    idx.init_index(max_elements=len(base), M=a.m, ef_construction=a.ef_construction,
                   random_seed=a.seed)
    idx.set_num_threads(1)
    t = time.perf_counter()
    idx.add_items(base, np.arange(len(base)), num_threads=1)
    build = time.perf_counter() - t
    from importlib.metadata import version

    out = {"version": version("hnswlib"), "build_s": build, "search": []}
    for ef in (int(x) for x in a.ef.split(",")):
        idx.set_ef(max(ef, a.k))
        t = time.perf_counter()
        labels, _ = idx.knn_query(queries, k=a.k, num_threads=1)
        qps = len(queries) / (time.perf_counter() - t)
        labels.astype("<u8").tofile(f"{a.labels}.ef{ef}")
        out["search"].append({"ef": ef, "qps": qps})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
