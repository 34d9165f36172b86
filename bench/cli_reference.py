"""The CLI end to end against a plain pipeline on the same file, timed in the same run.

The design's budget: ``python -m product_repr train`` on a catalog is no slower than a plain pipeline a
practitioner would write in ~25 lines (raw features → a torch autoencoder, 30 epochs → umap-learn →
faiss). Both run as fresh processes on the same CSV (so both pay imports and numba's UMAP compilation),
alternately, ``--repeats`` times each; the table gives each one's median wall time and the ratio.

    python3 bench/cli_reference.py [--rows 20000] [--repeats 2] [--data ../shared/datasets/bigbasket_products/bigbasket_products.csv]

The CLI is measured twice over: ``cold`` with an empty encoding cache (the first time this machine sees
these texts) and ``warm`` with the cache it filled (any later run on texts seen before).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "bigbasket_products" / "bigbasket_products.csv"

PLAIN = r'''
import sys, numpy as np, pandas as pd, torch, umap, faiss
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
torch.manual_seed(0)
df = pd.read_csv(sys.argv[1])
num = df.select_dtypes("number")
blocks = [((num - num.mean()) / (num.std() + 1e-9)).fillna(0).to_numpy(np.float32)]
for c in df.columns.difference(num.columns):
    s = df[c].fillna("").astype(str)
    if s.nunique() <= 200:
        blocks.append(pd.get_dummies(s).to_numpy(np.float32))
    else:
        tfidf = TfidfVectorizer(ngram_range=(1, 2), min_df=2).fit_transform(s)
        blocks.append(TruncatedSVD(64, random_state=0).fit_transform(tfidf).astype(np.float32))
X = torch.from_numpy(np.hstack(blocks))
n, p = X.shape
enc = torch.nn.Sequential(torch.nn.Linear(p, 256), torch.nn.ReLU(), torch.nn.Linear(256, 32))
dec = torch.nn.Sequential(torch.nn.Linear(32, 256), torch.nn.ReLU(), torch.nn.Linear(256, p))
opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=1e-3)
for epoch in range(30):
    for idx in torch.randperm(n).split(256):
        loss = torch.nn.functional.mse_loss(dec(enc(X[idx])), X[idx])
        opt.zero_grad(); loss.backward(); opt.step()
with torch.no_grad():
    Z = enc(X).numpy()
coords = umap.UMAP(n_neighbors=15).fit_transform(Z)
faiss.normalize_L2(Z)
index = faiss.IndexFlatIP(Z.shape[1]); index.add(Z)
sims, ids = index.search(Z, 11)
np.save(sys.argv[2] + "/embeddings.npy", Z); np.save(sys.argv[2] + "/coords.npy", coords)
np.save(sys.argv[2] + "/neighbours.npy", ids)
'''


def timed(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    import pandas as pd

    work = Path(tempfile.mkdtemp(prefix="cli_reference_"))
    csv = work / "catalog.csv"
    pd.read_csv(args.data).head(args.rows).to_csv(csv, index=False)
    plain = work / "plain.py"
    plain.write_text(PLAIN)
    cache = work / "cache"
    env = dict(os.environ, PYTHONPATH=str(ROOT), PRODUCT_REPR_CACHE=str(cache))
    times: dict[str, list[float]] = {"plain": [], "cli cold": [], "cli warm": []}
    for i in range(args.repeats):
        out = work / f"plain-{i}"
        out.mkdir()
        times["plain"].append(timed([sys.executable, str(plain), str(csv), str(out)], env))
        env["PRODUCT_REPR_CACHE"] = str(work / f"cold-cache-{i}")  # nothing encoded yet
        times["cli cold"].append(timed([sys.executable, "-m", "product_repr", "train", str(csv), "--quiet",
                                        "--out", str(work / f"cold-{i}")], env))
        times["cli warm"].append(timed([sys.executable, "-m", "product_repr", "train", str(csv), "--quiet",
                                        "--out", str(work / f"warm-{i}")], env))  # the cache it just filled
        print(f"round {i + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()), file=sys.stderr)
    plain_s = statistics.median(times["plain"])
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; {args.rows:,} rows of "
          f"{args.data.name}; median of {args.repeats} fresh processes each\n")
    print("| pipeline | wall s (median) | ratio to plain |")
    print("| --- | --- | --- |")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.1f} | {statistics.median(values) / plain_s:.2f}x |")


if __name__ == "__main__":
    main()
