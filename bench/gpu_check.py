"""The GPU check: the CUDA tests, then training and encoding a big demo catalog on the GPU, with times.

Prepared for a machine with a CUDA GPU (run it when one is lent; it also runs on a CPU, slowly, with a
smaller ``--rows``)::

    python3 bench/gpu_check.py                    # 1,000,000 demo rows, default learner
    python3 bench/gpu_check.py --rows 200000 --analysis

Prints the machine, the CUDA tests' result (the ones that skip without a GPU) and a markdown table of
seconds per stage: making the catalog, reading it back from Parquet, encoding the features (the sentence
encoder runs on the GPU too), training, encoding the embeddings, exact neighbours (faiss, CPU), the map
(UMAP on a sample, the rest placed) and, with ``--analysis``, reconstruction errors, odd products and
duplicates. Peak memory of the process and of the GPU at the end. Nothing is asserted; the figures belong in
docs/BENCHMARKS.md with the machine.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def machine() -> list[str]:
    import torch

    lines = [f"python {platform.python_version()}, torch {torch.__version__}, {platform.machine()}, "
             f"{os.cpu_count()} CPUs"]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            lines.append(f"GPU {i}: {p.name}, {p.total_memory / 2**30:.0f} GiB")
    else:
        built = torch.version.cuda
        lines.append("no CUDA GPU is visible to torch" + ("" if built else " (this torch build has no CUDA: install "
                                                                       "a CUDA build of the same version)"))
    return lines


def cuda_tests() -> str:
    """The tests that skip without a GPU, run here."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-k", "cuda", "tests/learners"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-500:]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--learner", default=None, help="default: the package's default learner")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    parser.add_argument("--analysis", action="store_true", help="also reconstruction, odd products, duplicates")
    parser.add_argument("--no-tests", action="store_true", help="skip the CUDA tests")
    args = parser.parse_args(argv)

    import torch

    from product_repr import learners, pipeline
    from product_repr.analysis import anomalies, duplicates, neighbours, projection, reconstruction
    from product_repr.compute import use_cpu_threads
    from product_repr.data import demo
    from product_repr.data.schema import infer_schema
    from product_repr.data.tables import read_table

    use_cpu_threads()
    for line in machine():
        print(line)
    if not args.no_tests:
        print(f"CUDA tests: {cuda_tests()}")
    times: dict[str, float] = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        out = fn()
        times[name] = time.perf_counter() - t0
        print(f"  {name}: {times[name]:.1f} s", flush=True)
        return out

    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "catalog.parquet"
        timed("make the demo catalog", lambda: demo.make_catalog(rows=args.rows, seed=0).table.to_parquet(table))
        df = timed("read it (Parquet)", lambda: read_table(table))
    schema = infer_schema(df)
    learner = args.learner or learners.DEFAULT
    config = {"steps": args.steps} if args.steps else None
    run = timed("features + training + embeddings", lambda: pipeline.build_run(
        df, schema, learner=learner, config=config, exclude=["subcategory"], analysis=False, device=args.device))
    for key, name in (("features_s", "  of which features"), ("train_s", "  of which training")):
        times[name] = run.info["timings"].get(key, float("nan"))
    Z = run.embeddings
    timed("exact neighbours, k=10 (faiss)", lambda: neighbours.all_neighbours(Z, 10))
    timed("map (UMAP on a sample, the rest placed)", lambda: projection.project(Z, seed=None))
    if args.analysis:
        X = timed("features again (for the analysis)", lambda: run.feature_space.transform(df))
        timed("reconstruction errors", lambda: reconstruction.errors(X, run.learner.reconstruct(X),
                                                                     run.feature_space.spans))
        timed("odd products", lambda: anomalies.anomaly_scores(run.learner.reconstruct, X, run.feature_space.spans))
        timed("duplicates", lambda: duplicates.pairs(X, run.feature_space.spans, run.product_ids, Z=Z))

    print()
    print(f"{args.rows:,} demo rows, learner {learner}, device {args.device} "
          f"({'cuda' if torch.cuda.is_available() and args.device != 'cpu' else 'cpu'}), "
          f"{int(run.history['step'].iloc[-1]) if len(run.history) else 0} steps, X {run.feature_space.spans[-1].stop} "
          f"columns, text encoder {run.info['features'].get('text_encoder_used')}")
    print()
    print("| stage | seconds |")
    print("| --- | --- |")
    for name, seconds in times.items():
        print(f"| {name.strip()} | {seconds:.1f} |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    gpu = f", GPU peak {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB" if torch.cuda.is_available() else ""
    print(f"\npeak memory {peak:.1f} GiB{gpu}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
