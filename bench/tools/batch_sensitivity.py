"""How much each method's attribution moves between batch_size=1 and the default, on the embedded
model's held-out scenes (float32): relative L2 per image. IG and Blur IG move by float rounding;
Guided IG, which ranks every gradient, can take another path (docs/semantics.md §8).

    PYTHONPATH=. python3 bench/tools/batch_sensitivity.py [--images 4] [--steps 32]
"""

from __future__ import annotations

import argparse

import torch

from idgi_fast import explain
from idgi_fast.data.scenes import generate_scenes
from idgi_fast.methods import METHODS
from idgi_fast.metrics.stability import quantised
from idgi_fast.models import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--steps", type=int, default=32)
    args = parser.parse_args()
    model = load_model("scenenet")
    scenes = generate_scenes(args.images, seed=1)
    images = quantised(scenes.images)
    print(f"| method | variant | relative L2, batch_size=1 vs default, per scene (steps = {args.steps}) |")
    print("|---|---|---|")
    for method in METHODS:
        default = explain(model, images, target=scenes.labels, method=method, steps=args.steps)
        single = explain(model, images, target=scenes.labels, method=method, steps=args.steps, batch_size=1)
        for idgi in (False, True):
            a, b = default.attribution(idgi=idgi), single.attribution(idgi=idgi)
            relative = (a - b).flatten(1).norm(dim=1) / a.flatten(1).norm(dim=1)
            values = ", ".join(f"{v:.1e}" for v in relative.tolist())
            print(f"| {method} | {'IDGI' if idgi else 'base'} | {values} |")


if __name__ == "__main__":
    torch.set_num_threads(2)
    main()
