"""The hidden tests of ``guidance`` (notebook 10): ``p_losses_cfg`` and ``p_sample_guided``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from autograder.assignment.hidden_tests.common import (
    SCHEDULE_CHOICES,
    Arrays,
    Float64,
    abs_numpy,
    as_numpy,
    as_tensor,
    case_error,
    case_inputs,
    cases_of,
    f64,
    image_shape,
    loss_scale,
    put_schedule,
    schedule64,
    seeded_z,
    timesteps,
)
from autograder.assignment.hidden_tests.forward import q_sample_scale
from autograder.assignment.hidden_tests.sampling import p_sample_scale
from autograder.sandbox.box import standins

# ----------------------------------------------------------------------------- classifier-free guidance (notebook 10)


def _class_case(out: Arrays, c: str, rng: np.random.Generator, kind: str, T: int, shape: Any) -> Any:
    """A noising case with class labels in 0 ... K-1 for a ``StandInClassModel`` with K classes."""
    K = int(rng.choice([3, 10]))
    put_schedule(out, c, kind, T)
    out[f"{c}/x_0"] = rng.uniform(-1, 1, size=shape).astype(np.float32)
    out[f"{c}/t"] = timesteps(rng, shape[0], T)
    out[f"{c}/noise"] = rng.standard_normal(shape).astype(np.float32)
    out[f"{c}/num_classes"] = np.array(K)
    out[f"{c}/labels"] = rng.integers(0, K, size=shape[0]).astype(np.int64)
    out[f"{c}/seed"] = np.array(int(rng.integers(1 << 30)))
    return K


def make_p_losses_cfg_mask(rng: np.random.Generator) -> Arrays:
    """Cases with an explicit drop mask (both kept and dropped labels in each): the loss is exact."""
    out: Arrays = {}
    for i, (kind, T) in enumerate(SCHEDULE_CHOICES[:4] + SCHEDULE_CHOICES[:2]):
        shape = (int(rng.integers(3, 7)), int(rng.choice([1, 3])), int(rng.integers(3, 7)), int(rng.integers(3, 7)))
        K = _class_case(out, f"c{i}", rng, kind, T, shape)
        mask = rng.random(shape[0]) < 0.5
        mask[0], mask[1] = True, False
        out[f"c{i}/drop_mask"] = mask
        # a given mask decides alone: p_uncond 1 and 0 make an ignored mask drop every label, or none
        out[f"c{i}/p_uncond"] = np.array(float(i % 2 == 0))
        out[f"c{i}/label"] = np.array(
            f"{kind} schedule, T={T}, K={K}, drop_mask={mask.astype(int).tolist()}, p_uncond={float(i % 2 == 0):g}"
        )
    return out


def class_model_scale(model: Any, x: Any, x_scale: Any, t: Any, labels: Any) -> np.ndarray:
    """``model_scale`` for ``StandInClassModel``: its class offset joins the bias."""
    w = abs_numpy(model.weight)
    b = (abs_numpy(model.bias)[None, :] + abs_numpy(model.offset)[np.asarray(labels)])[:, :, None, None]
    mixed = np.einsum("oc,bchw->bohw", w, abs_numpy(x) + np.asarray(x_scale)) + b
    t = abs_numpy(t).reshape(-1, 1, 1, 1)
    return mixed * w.shape[1] + 2.0 + 0.01 * (1.0 + 0.37 * t)


def ref_p_losses_cfg_mask(inputs: Arrays) -> Arrays:
    from solutions.forward import q_sample
    from solutions.guidance import p_losses_cfg

    out: Arrays = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        model = standins.StandInClassModel(ci["x_0"].shape[1], int(ci["num_classes"]))
        t, labels, mask = as_tensor(ci["t"]), as_tensor(ci["labels"]), as_tensor(ci["drop_mask"]).bool()
        used = torch.where(mask, int(ci["num_classes"]), labels)
        with Float64():
            x_0, noise = f64(ci["x_0"]), f64(ci["noise"])
            torch.manual_seed(int(ci["seed"]))  # as the sandbox does: a mistake that draws is drawn alike
            loss = float(as_numpy(p_losses_cfg(model, schedule64(ci), x_0, t, labels, float(ci["p_uncond"]), noise, mask)))
            x_t = q_sample(schedule64(ci), x_0, t, noise=noise)
            pred = model(x_t, t, used)
        x_scale = q_sample_scale(ci, ci["x_0"], ci["t"], ci["noise"])
        scale = loss_scale("l2", pred, noise, class_model_scale(model, x_t, x_scale, t, used), loss)
        out[f"{c}/out"], out[f"{c}/out.scale"] = np.array(loss), np.array(scale)
    return out


DROPOUT_BATCH = 4000


def make_p_losses_cfg_random(rng: np.random.Generator) -> Arrays:
    """Cases without a drop mask: a large batch of tiny images, so that the share of dropped labels can be
    told from ``p_uncond`` whatever random draws the code makes."""
    out: Arrays = {}
    for i, p in enumerate((0.0, 1.0, 0.1, float(rng.uniform(0.15, 0.4)))):
        kind, T = SCHEDULE_CHOICES[i % 4]
        K = _class_case(out, f"c{i}", rng, kind, T, (DROPOUT_BATCH, 1, 2, 2))
        out[f"c{i}/p_uncond"] = np.array(p)
        out[f"c{i}/label"] = np.array(f"{kind} schedule, T={T}, K={K}, B={DROPOUT_BATCH}, p_uncond={p:.3g}, drop_mask=None")
    return out


def ref_p_losses_cfg_random(inputs: Arrays) -> Arrays:
    """The labels the model sees in the reference, seeded as the sandbox seeds the student's call. The part's
    check does not compare with them (any random mask with the right share passes); the diagnosis does: a
    mistaken reference drawing from the same seed sees the same labels as that mistake."""
    from solutions.guidance import p_losses_cfg

    out: Arrays = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        model = standins.StandInClassModel(ci["x_0"].shape[1], int(ci["num_classes"]))
        with Float64():
            torch.manual_seed(int(ci["seed"]))
            p_losses_cfg(model, schedule64(ci), f64(ci["x_0"]), as_tensor(ci["t"]), as_tensor(ci["labels"]),
                         float(ci["p_uncond"]), f64(ci["noise"]))  # fmt: skip
        out[f"{c}/labels_seen"] = as_numpy(model.calls[-1]).astype(np.float64)
    return out


def label_dropout_check(inputs: Arrays, reference: Arrays, student: Arrays) -> tuple[bool, str]:
    """The labels the model saw: the given ones where kept, the "no class" token K where dropped, and the
    share dropped within 5 standard deviations of ``p_uncond`` (exactly 0 or all for p_uncond 0 or 1)."""
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        error = case_error(student, c, ci["label"])
        if error is not None:
            return False, error
        seen, labels, K, p = student.get(f"{c}/labels_seen"), ci["labels"], int(ci["num_classes"]), float(ci["p_uncond"])
        if seen is None or np.shape(seen) != labels.shape:
            return False, f"{ci['label']}: the model was not called with one label per image"
        seen = np.asarray(seen, dtype=np.float64)
        dropped = seen == K
        if not np.array_equal(seen[~dropped], labels[~dropped]):
            return False, f"{ci['label']}: labels that were not dropped must reach the model unchanged (dropped ones become {K})"
        share, n = float(dropped.mean()), len(labels)
        slack = 0.0 if p in (0.0, 1.0) else 5.0 * math.sqrt(p * (1 - p) / n) + 1.0 / n
        if abs(share - p) > slack:
            return False, f"{ci['label']}: {100 * share:.1f} % of the labels were dropped, expected p_uncond = {100 * p:.1f} %"
        # a random mask drops alike in both halves of the batch; "the first p_uncond * B" does not
        halves = [float(half.mean()) for half in np.array_split(dropped, 2)]
        if abs(halves[0] - halves[1]) > 2 * slack:
            return False, (
                f"{ci['label']}: {100 * halves[0]:.1f} % of the first half of the batch and {100 * halves[1]:.1f} % of "
                "the second were dropped: the drop mask is not random (drop each label independently, with probability p_uncond)"
            )
    return True, ""


def make_p_sample_guided(rng: np.random.Generator) -> Arrays:
    out: Arrays = {}
    i = 0
    for kind, T in (("linear", 1000), ("cosine", 1000), ("cosine", 50), ("linear", 50)):
        mid = int(rng.integers(1, T - 1))
        for t_index, w in ((0, float(rng.uniform(0.5, 3))), (T - 1, 0.0), (mid, float(rng.uniform(1, 8)))):
            c = f"c{i}"
            shape = image_shape(rng)
            put_schedule(out, c, kind, T)
            K = int(rng.choice([3, 10]))
            out[f"{c}/x_t"] = rng.standard_normal(shape).astype(np.float32)
            out[f"{c}/t_index"], out[f"{c}/w"], out[f"{c}/clip"] = np.array(t_index), np.array(w), np.array(int(i % 2))
            out[f"{c}/num_classes"] = np.array(K)
            out[f"{c}/labels"] = rng.integers(0, K, size=shape[0]).astype(np.int64)
            out[f"{c}/seed"] = np.array(int(rng.integers(1 << 30)))
            clip = f"clip_denoised={bool(i % 2)}"
            out[f"{c}/label"] = np.array(f"{kind} schedule, T={T}, t_index={t_index}, w={w:.3g}, K={K}, {clip}")
            i += 1
    return out


def ref_p_sample_guided(inputs: Arrays) -> Arrays:
    from solutions.guidance import p_sample_guided

    out: Arrays = {}
    for c in cases_of(inputs):
        ci = case_inputs(inputs, c)
        t_index, w, clip = int(ci["t_index"]), float(ci["w"]), bool(ci["clip"])
        t = torch.full((ci["x_t"].shape[0],), t_index, dtype=torch.long)
        labels = as_tensor(ci["labels"])
        model = standins.StandInClassModel(ci["x_t"].shape[1], int(ci["num_classes"]))
        null = torch.full_like(labels, int(ci["num_classes"]))
        with Float64():
            x_t = f64(ci["x_t"])
            torch.manual_seed(int(ci["seed"]))
            out[f"{c}/out"] = as_numpy(p_sample_guided(model, schedule64(ci), x_t, t, t_index, labels, w, clip_denoised=clip))
            eps_c, eps_u = model(x_t, t, labels), model(x_t, t, null)
        eps = (1.0 + w) * eps_c - w * eps_u
        eps_scale = (1.0 + w) * (class_model_scale(model, x_t, 0.0, t, labels) + 2.0 * abs_numpy(eps_c))
        eps_scale = eps_scale + w * (class_model_scale(model, x_t, 0.0, t, null) + 2.0 * abs_numpy(eps_u))
        z = seeded_z(x_t.shape, ci["seed"])
        out[f"{c}/out.scale"] = p_sample_scale(ci, x_t, t, t_index, eps, eps_scale, clip, z)
    return out
