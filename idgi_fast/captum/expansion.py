"""A NoiseTunnel's keyword arguments for `times` noisy copies of every example, each copy beside
its example, by Captum's rules, so that any attribution method gets them as Captum's NoiseTunnel
gives them: tensors among `additional_forward_args` and a per-example target (a list, or a tensor
of more than one element) are repeated per copy; a baseline or feature mask with one row per
example (more than one) is repeated; or, with `draw_baseline_from_distrib`, every copy gets a
baseline row drawn at random (numpy's global generator, as Captum draws it)."""

from __future__ import annotations

import numpy as np
import torch

from .errors import CaptumArgumentError


def _repeated(tensor: torch.Tensor, times: int) -> torch.Tensor:
    return tensor.repeat_interleave(times, dim=0)


def expand_arguments(arguments, times: int):
    if arguments is None:
        return None
    arguments = arguments if isinstance(arguments, tuple) else (arguments,)
    return tuple(_repeated(a, times) if isinstance(a, torch.Tensor) and a.ndim > 0 else a for a in arguments)


def expand_target(target, times: int):
    if isinstance(target, list):
        return [entry for entry in target for _ in range(times)]
    if isinstance(target, torch.Tensor) and target.numel() > 1:
        return _repeated(target, times)
    return target


def expand_baselines(baselines, inputs: tuple[torch.Tensor, ...], times: int, draw: bool):
    baselines = (0,) * len(inputs) if baselines is None else baselines
    baselines = baselines if isinstance(baselines, tuple) else (baselines,)
    if len(baselines) != len(inputs):
        raise CaptumArgumentError(
            f"baselines has {len(baselines)} entries for {len(inputs)} inputs; give one per input"
        )
    expanded = []
    for x, b in zip(inputs, baselines):
        if not isinstance(b, torch.Tensor):
            expanded.append(b)
        elif draw:
            if b.ndim == 0 or b.shape[0] == 0 or b.shape[1:] != x.shape[1:]:
                raise CaptumArgumentError(
                    f"draw_baseline_from_distrib takes baselines as rows (K, …) shaped like one example of "
                    f"their input {tuple(x.shape[1:])}; got {tuple(b.shape)}"
                )
            expanded.append(b[np.random.choice(b.shape[0], x.shape[0] * times).tolist()])
        else:
            one_per_example = b.ndim > 0 and b.shape[0] == x.shape[0] > 1
            expanded.append(_repeated(b, times) if one_per_example else b)
    return tuple(expanded)


def expand_feature_mask(mask, times: int):
    if mask is None:
        return None
    masks = mask if isinstance(mask, tuple) else (mask,)
    expanded = tuple(_repeated(m, times) if m.shape[0] > 1 else m for m in masks)
    return expanded if isinstance(mask, tuple) else expanded[0]


def expand_keywords(keywords: dict, inputs: tuple[torch.Tensor, ...], times: int, draw: bool) -> dict:
    """`keywords` for `times` copies of every example of `inputs` (a new dict; the caller's is kept)."""
    expanded = dict(keywords)
    if "additional_forward_args" in keywords:
        expanded["additional_forward_args"] = expand_arguments(keywords["additional_forward_args"], times)
    if "target" in keywords:
        expanded["target"] = expand_target(keywords["target"], times)
    if "baselines" in keywords:
        expanded["baselines"] = expand_baselines(keywords["baselines"], inputs, times, draw)
    if "feature_mask" in keywords:
        expanded["feature_mask"] = expand_feature_mask(keywords["feature_mask"], times)
    return expanded
