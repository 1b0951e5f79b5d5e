"""GPU check, section "family": noise tunnel, GradientSHAP and XRAI on the card against the CPU."""

from __future__ import annotations

import torch

from bench.floor import model_only_floor
from bench.timing import CHUNK, relative_l2, timed
from idgi_fast import explain, gradient_shap
from idgi_fast.data.scenes import generate_scenes
from idgi_fast.models.toy import load_scenenet
from idgi_fast.utils.tables import markdown_table


def check_family(report: dict, device: str, rounds: int) -> int:
    """Noise tunnel, GradientSHAP and XRAI on `device` against the CPU, with their timings."""
    model_cpu, model = load_scenenet(), load_scenenet().to(device)
    scenes = generate_scenes(4, seed=1)
    x_cpu, labels_cpu = scenes.images, scenes.labels
    x, labels = x_cpu.to(device), labels_cpu.to(device)
    noise = {"type": "smoothgrad_sq", "samples": 16, "stdev": 0.15, "seed": 0}
    rows, failures = [], 0

    def tunnel(m, images, targets):
        return explain(m, images, target=targets, steps=16, noise=noise, batch_size=CHUNK)

    want, got = tunnel(model_cpu, x_cpu, labels_cpu), tunnel(model, x, labels)
    gap = float(got.sample_completeness_gap(idgi=True).max())
    for kind in ("base", "idgi"):
        rel = relative_l2(getattr(got, kind).cpu(), getattr(want, kind))
        passed = rel <= 1e-3 and gap <= 1e-5
        failures += not passed
        rows.append({"check": f"SmoothGrad² IG {kind}, {device} vs CPU", "value": rel, "pass": passed})
    rows.append({"check": "largest sample IDGI gap", "value": gap, "pass": gap <= 1e-5})
    distribution = torch.cat([x_cpu[:3] * 0.3, torch.zeros_like(x_cpu[:1])])
    shap_want = gradient_shap(model_cpu, x_cpu, distribution, labels_cpu, samples=32, stdev=0.05)
    shap_got = gradient_shap(model, x, distribution.to(device), labels, samples=32, stdev=0.05)
    rel = relative_l2(shap_got.cpu(), shap_want)
    failures += rel > 1e-3
    rows.append({"check": f"gradient_shap, {device} vs CPU", "value": rel, "pass": rel <= 1e-3})
    floor = timed(lambda: model_only_floor(model, x, labels, 16 * 17, CHUNK), rounds)
    seconds = timed(lambda: tunnel(model, x, labels), rounds)
    rows.append({"check": "SmoothGrad² IG ± IDGI, 16 samples × 17 points: × floor", "value": seconds / floor})
    floor = timed(lambda: model_only_floor(model, x, labels, 32, CHUNK), rounds)
    seconds = timed(
        lambda: gradient_shap(model, x, distribution.to(device), labels, samples=32, stdev=0.05), rounds
    )
    rows.append({"check": "gradient_shap, 32 samples: × floor", "value": seconds / floor})
    try:
        from idgi_fast.xrai import segment_masks, xrai_regions
    except ImportError:
        segment_masks = None
    if segment_masks is not None:
        try:
            masks = segment_masks(x_cpu[0])
        except ImportError:
            masks = None
        if masks is not None:
            attribution = want.base[0].max(dim=0).values
            map_cpu, ranks_cpu = xrai_regions(attribution, masks)
            map_dev, ranks_dev = xrai_regions(attribution.to(device), masks.to(device))
            equal = torch.equal(ranks_dev.cpu(), ranks_cpu) and torch.allclose(map_dev.cpu(), map_cpu)
            failures += not equal
            rows.append(
                {
                    "check": f"XRAI selection, {device} vs CPU: same ranks and gains",
                    "value": 0.0,
                    "pass": equal,
                }
            )
            cpu_seconds = timed(lambda: xrai_regions(attribution, masks), rounds)
            dev_seconds = timed(lambda: xrai_regions(attribution.to(device), masks.to(device)), rounds)
            rows.append({"check": "XRAI selection seconds, CPU / device", "value": cpu_seconds / dev_seconds})
    report["family"] = rows
    print(f"\n## Noise tunnel, GradientSHAP, XRAI on {device} (4 scenes; median of {rounds})\n")
    print(markdown_table(rows, ["check", "value", "pass"]))
    return failures
