"""FMNIST-FD and time of ancestral sampling against DDIM step counts, for one trained checkpoint.

    python -m benchmarks.samplers runs/benchmark/checkpoint.pt --samples 500 --steps 10 20 50 100

Every sampler starts from the same seed and draws the same number of images from the EMA weights; the table says
how far each DDIM step count is from the full ancestral chain, in score and in time (notebook 08 plots the same).
"""

import argparse
import time

from solutions import evaluate, training
from solutions.runtime import seed_everything


def compare(state, samples, ddim_steps, seed=0, fast=None, progress=True):
    """``[(sampler, steps, fmnist_fd, seconds)]``: DDPM with all T steps first, then DDIM with each of ``ddim_steps``."""
    rows = []
    for sampler, steps in [("ddpm", state.config.timesteps), *(("ddim", s) for s in ddim_steps)]:
        seed_everything(seed)
        started = time.monotonic()
        images = training.generate(state, samples, sampler=sampler, steps=steps, progress=progress).clamp(-1, 1).cpu()
        seconds = time.monotonic() - started
        rows.append((sampler, steps, evaluate.fmnist_fd(images, fast=fast), seconds))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.samplers", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a checkpoint.pt written by training (or by benchmarks.quality)")
    parser.add_argument("--samples", type=int, default=500, help="images per sampler (default 500)")
    parser.add_argument("--steps", type=int, nargs="+", default=[10, 20, 50, 100], help="DDIM step counts")
    parser.add_argument("--fast", action="store_true", help="smoke mode's classifier (also DDPM_FAST=1)")
    args = parser.parse_args(argv)
    state = training.load_checkpoint(args.checkpoint)
    rows = compare(state, args.samples, args.steps, fast=args.fast or None)
    _, _, ddpm_fd, ddpm_seconds = rows[0]
    print(f"| sampler | steps | FMNIST-FD ({args.samples} samples) | vs DDPM | time (s) | speed-up |")
    print("|---|---:|---:|---:|---:|---:|")
    for sampler, steps, fd, seconds in rows:
        print(f"| {sampler} | {steps} | {fd:.2f} | {fd / ddpm_fd - 1:+.1%} | {seconds:.0f} | {ddpm_seconds / seconds:.1f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
