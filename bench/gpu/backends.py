"""GPU check, sections "reference", "backends" and "e2e": every backend on the card against
the float64 CPU reference, and each method ± IDGI timed against the model-only floor."""

from __future__ import annotations

import torch

from bench.floor import model_only_floor
from bench.timing import CHUNK, METHODS, relative_l2, timed
from bench.workloads import SLOW_REFERENCE
from idgi_fast import explain
from idgi_fast.data.scenes import generate_scenes
from idgi_fast.methods import method_spec
from idgi_fast.models.toy import load_scenenet
from idgi_fast.utils.tables import markdown_table


def check_backends(report: dict, device: str, images: int, steps: int) -> int:
    """The fast backends against the reference, all on the GPU, float32, same inputs."""
    model = load_scenenet().to(device)
    scenes = generate_scenes(images, seed=1)
    x, labels = scenes.images.to(device), scenes.labels.to(device)
    rows = []
    for method in METHODS:
        options = dict(target=labels, method=method, steps=steps)
        if method_spec(method).supports_compute_at:
            options["compute_at"] = [steps // 4, steps]
        want = explain(model, x, backend="reference", **options)
        for backend, chunk in [
            (b, c) for b in (("torch", "triton") if device == "cuda" else ("torch",)) for c in (images, CHUNK)
        ]:
            # chunk = images: the reference's model batches (one point per image per call), so the
            # model's own float32 arithmetic is the same; chunk = 64: cuDNN may pick other algorithms
            got = explain(model, x, backend=backend, batch_size=chunk, **options)
            for kind in ("base", "idgi"):
                mine, theirs = getattr(got, kind), getattr(want, kind)
                if isinstance(mine, dict):
                    pairs = [(mine[n], theirs[n]) for n in mine]
                else:
                    pairs = [(mine, theirs)]
                worst = max(
                    float((a - b).abs().max()) / (1e-5 * float(b.abs().max()) + 1e-7) for a, b in pairs
                )
                rel = max(relative_l2(a, b) for a, b in pairs)
                finite = all(bool(torch.isfinite(a).all()) for a, _ in pairs)
                passed = finite and (rel <= 1e-3 if method_spec(method).batch_sensitive else worst <= 1.0)
                if chunk != images:
                    passed = finite  # reported, not judged: the model's batches differ from the reference's
                rows.append(
                    {
                        "method": method,
                        "backend": backend,
                        "points/call": chunk,
                        "estimate": kind,
                        "finite": finite,
                        "max err / §7 limit": worst,
                        "rel L2": rel,
                        "pass": passed,
                    }
                )
    report["backends_vs_reference"] = rows
    print(
        f"\n## Fast backends vs the reference, all on {device}, float32 ({images} scenes, steps={steps}; "
        "IG/Blur IG with compute_at; Guided IG judged by relative L2 ≤ 1e-3)\n"
    )
    print(markdown_table(rows, list(rows[0])))
    return sum(not row["pass"] for row in rows)


def check_reference(report: dict, device: str, images: int, steps: int) -> int:
    model64, model32 = load_scenenet(dtype=torch.float64), load_scenenet().to(device)
    scenes = generate_scenes(images, seed=1)
    x, labels = scenes.images.to(device), scenes.labels.to(device)
    rows = []
    defaults = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    for method in METHODS:
        want = explain(
            model64,
            scenes.images.double(),
            target=scenes.labels,
            method=method,
            steps=steps,
            backend="reference",
        )
        for tf32 in (False, True):
            torch.backends.cudnn.allow_tf32 = tf32
            torch.backends.cuda.matmul.allow_tf32 = tf32
            got = explain(model32, x, target=labels, method=method, steps=steps, backend="reference")
            finite = bool(torch.isfinite(got.base).all() and torch.isfinite(got.idgi).all())
            base_error = relative_l2(got.base, want.base)
            passed = finite and (not method_spec(method).batch_sensitive or base_error <= 1e-3)
            rows.append(
                {
                    "method": method,
                    "user tf32 flags": tf32,
                    "finite": finite,
                    "base rel L2": base_error,
                    "idgi rel L2": relative_l2(got.idgi, want.idgi),
                    "outputs max abs": float((got.outputs.double().cpu() - want.outputs).abs().max()),
                    "pass": passed,
                }
            )
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = defaults
    report["reference_cuda_vs_cpu64"] = rows
    print(f"\n## Reference on {device} (float32) vs float64 on the CPU ({images} images, steps={steps})\n")
    print(markdown_table(rows, list(rows[0])))
    return sum(not row["pass"] for row in rows)


def end_to_end_workloads(device: str):
    scenes = generate_scenes(8, seed=1)
    yield (
        "embedded SceneNet, 8 images, steps=32",
        load_scenenet().to(device),
        scenes.images.to(device),
        scenes.labels.to(device),
        32,
    )
    from idgi_fast.models.zoo import ZooUnavailable, build_model, check_zoo_available

    try:
        check_zoo_available()
    except ZooUnavailable:
        print("\n(torchvision is not usable here: no ResNet-50 workload)")
        return
    if device != "cuda":
        return
    torch.manual_seed(0)
    model = build_model("resnet50", None, device)
    yield (
        "ResNet-50 random weights, 16 images, steps=128",
        model,
        torch.rand(16, 3, 224, 224, device=device),
        torch.randint(0, 1000, (16,), device=device),
        128,
    )


def time_methods(report: dict, device: str, rounds: int, methods=METHODS) -> None:
    report["end_to_end"] = []
    for name, model, x, labels, steps in end_to_end_workloads(device):
        floor_seconds = timed(lambda: model_only_floor(model, x, labels, steps + 1, CHUNK), rounds)
        rows = [
            {
                "entry": "model-only floor",
                "seconds": floor_seconds,
                "× floor": 1.0,
                "images/s": x.shape[0] / floor_seconds,
            }
        ]
        for method in methods:
            for use_idgi in (False, True):
                backends = (["torch", "triton"] if device == "cuda" else ["torch"]) + (
                    ["reference"] if name.startswith("embedded") else []
                )
                for backend in backends:
                    if backend == "reference" and method in SLOW_REFERENCE and use_idgi is False:
                        continue  # its per-image Python loop costs the same with IDGI; time it once
                    seconds = timed(
                        lambda: explain(
                            model,
                            x,
                            target=labels,
                            method=method,
                            steps=steps,
                            idgi=use_idgi,
                            backend=backend,
                            batch_size=CHUNK,
                            graphs=False if backend != "reference" else None,
                        ),
                        rounds,
                    )
                    rows.append(
                        {
                            "entry": f"{method}{' + IDGI' if use_idgi else ''} [{backend}]",
                            "seconds": seconds,
                            "× floor": seconds / floor_seconds,
                            "images/s": x.shape[0] / seconds,
                        }
                    )
        report["end_to_end"].append({"workload": name, "rows": rows})
        print(f"\n## End to end: {name}, {CHUNK} points per model call (median of {rounds})\n")
        print(markdown_table(rows, list(rows[0])))
