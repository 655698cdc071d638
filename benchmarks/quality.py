"""What a wall-clock budget buys: the course recipe (and, with ``--peer``, denoising-diffusion-pytorch's) on Fashion-MNIST.

    python -m benchmarks.quality --minutes 8            # the course recipe alone
    python -m benchmarks.quality --minutes 8 --peer     # beside lucidrains' recipe, same minutes, same data

Each recipe trains for the same wall-clock minutes on the same images, draws the same number of samples and is
scored with the course metric, FMNIST-FD (``solutions.evaluate``: lower is better). The table also gives the
FMNIST-FD of real training images, the floor for that many samples. Sample grids, ``results.json`` and the course
model's ``checkpoint.pt`` go to ``--out``.
"""

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from solutions import evaluate, training
from solutions.data import images_as_tensor, load_fashion_mnist
from solutions.plotting import save_image_grid
from solutions.runtime import fast_mode, get_device, seed_everything


def course(images, minutes, samples, sampler, sampling_steps, out, fast=False, seed=0, progress=True):
    """Train the course's configuration for this machine for ``minutes`` (checkpoint in ``out``), then draw ``samples``."""
    device = get_device()
    config = training.config_for(device, fast=fast)
    config.seed = seed
    config.sample_every = 0  # no periodic grids: the budget goes to training
    state = training.build_state(config, device)
    training.train(state, images, out_dir=out, minutes=minutes, progress=progress)
    seed_everything(seed + 1)
    started = time.monotonic()
    generated = training.generate(state, samples, sampler=sampler, steps=sampling_steps, progress=progress)
    return {
        "name": f"this course ({config.name} config)",
        "parameters": sum(p.numel() for p in state.model.parameters()),
        "steps": state.step,
        "train_seconds": state.seconds,
        "images_per_second": state.step * config.batch_size / state.seconds,
        "sampler": f"{sampler} {sampling_steps or (config.timesteps if sampler == 'ddpm' else 50)} steps",
        "sampling_seconds": time.monotonic() - started,
        "samples": generated.clamp(-1, 1).cpu(),
    }


PEER_MODELS = {"matched": {"dim": 16, "dim_mults": (1, 2, 4)}, "readme": {}}


def peer(images, minutes, samples, sampling_steps, model="matched", seed=0, progress=True):
    """denoising-diffusion-pytorch's recipe (objective, schedule, T, optimiser, EMA, batch) with its ``Unet`` either at
    the course's width ("matched": dim 16, 0.7 M parameters) or at its README's ("readme": dim 64, 35.7 M, a GPU model:
    on 2 CPU cores it makes a handful of steps in 8 minutes, and sampling takes longer than training)."""
    from benchmarks.peer import PeerRecipe, run_peer

    recipe = replace(PeerRecipe(), **PEER_MODELS[model])
    result = run_peer(images, minutes, samples, sampling_steps=sampling_steps, seed=seed, progress=progress, recipe=recipe)
    return {**result, "name": f"{result['name']} (dim {recipe.dim})", "sampler": f"ddim {result['sampling_steps']} steps"}


def table(rows):
    """The results as a Markdown table (the README records it as printed)."""
    lines = [
        "| recipe | parameters | training steps | images/s | sampler | sampling (s) | FMNIST-FD | confidence | rarest class |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        counts = row.get("class_histogram") or {}
        rarest = min(counts, key=counts.get) if counts else None
        cells = [
            row["name"],
            f"{row['parameters'] / 1e6:.2f} M" if row.get("parameters") else "",
            f"{row['steps']:,}" if row.get("steps") is not None else "",
            f"{row['images_per_second']:.0f}" if row.get("images_per_second") else "",
            row.get("sampler", ""),
            f"{row['sampling_seconds']:.0f}" if row.get("sampling_seconds") is not None else "",
            f"{row['fmnist_fd']:.2f}",
            f"{row['mean_confidence']:.2f}" if row.get("mean_confidence") is not None else "",
            f"{rarest} {counts[rarest] / sum(counts.values()):.1%}" if rarest else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=8.0, help="training budget per recipe (default 8)")
    parser.add_argument("--samples", type=int, default=500, help="images drawn and scored per recipe (default 500)")
    parser.add_argument("--sampler", choices=training.SAMPLERS, default="ddim", help="the course's sampler (default ddim)")
    parser.add_argument("--sampling-steps", type=int, default=50, help="DDIM updates, for both recipes (default 50)")
    parser.add_argument("--peer", action="store_true", help="also run denoising-diffusion-pytorch's recipe")
    parser.add_argument("--peer-model", choices=sorted(PEER_MODELS), default="matched",
                        help="the peer's U-Net: the course's width (default) or its README's 35.7 M-parameter one")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fast", action="store_true", help="smoke mode: tiny models, data and classifier (also DDPM_FAST=1)")
    parser.add_argument("--out", default="runs/benchmark", help="sample grids and results.json (default runs/benchmark)")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.samples < 2:
        parser.error("--minutes must be > 0 and --samples >= 2")
    steps = None if args.sampler == "ddpm" else args.sampling_steps
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"device {get_device()}, {torch.get_num_threads()} threads; {args.minutes:g} min per recipe, {args.samples} samples")
    fast = args.fast or fast_mode()
    evaluate.classifier(fast=fast)  # trained (once) before any clock starts
    images = images_as_tensor(load_fashion_mnist("train", limit=training.SMOKE_CONFIG.data_limit if fast else None))
    rows = [course(images, args.minutes, args.samples, args.sampler, steps, out, fast=fast, seed=args.seed)]
    if args.peer:
        rows.append(peer(images, args.minutes, args.samples, args.sampling_steps, args.peer_model, seed=args.seed))
    for row in rows:
        row.update(evaluate.evaluate(row["samples"], fast=fast))
        slug = "course" if row is rows[0] else "peer"
        save_image_grid(row.pop("samples")[:100], out / f"{slug}_samples.png", nrow=10)
    floor = evaluate.reference_points(args.samples, fast=fast)["real train images"]
    real = {"name": f"real training images ({args.samples})", "fmnist_fd": floor}
    print(table([*rows, real]))
    (out / "results.json").write_text(json.dumps({"minutes": args.minutes, "rows": rows, "real": real}, indent=2, default=str))
    print(f"sample grids and results.json in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
