"""Training speed of the course's loop on this machine: steps/s and images/s for one configuration.

    python -m benchmarks.speed --config gpu --steps 300            # add --compile to compare
    python -m benchmarks.speed --config cpu --steps 100 --synthetic

``--synthetic`` trains on random images of the right shape (speed does not depend on the pixels), for machines
without the data set.
"""

import argparse
import time
from dataclasses import replace

import torch

from solutions import training
from solutions.runtime import get_device

CONFIGS = {"gpu": training.GPU_CONFIG, "cpu": training.CPU_CONFIG, "smoke": training.SMOKE_CONFIG}


def measure(config, images, steps, warmup=20, compile=False, device=None):
    """Steps/s of ``training.train`` over ``steps`` steps after ``warmup`` untimed ones (compilation, allocator)."""
    device = device or get_device()
    state = training.build_state(replace(config, sample_every=0, minutes=None), device)
    training.train(state, images, max_steps=warmup, progress=False, compile=compile)
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    training.train(state, images, max_steps=warmup + steps, progress=False, compile=compile)  # ends with a read-back
    seconds = time.perf_counter() - started
    return {"steps_per_second": steps / seconds, "images_per_second": steps * config.batch_size / seconds}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed", description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="gpu" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--synthetic", action="store_true", help="random images instead of Fashion-MNIST")
    args = parser.parse_args(argv)
    config = CONFIGS[args.config]
    if args.synthetic:
        images = torch.rand(60_000, config.channels, config.image_size, config.image_size) * 2 - 1
    else:
        from solutions.data import images_as_tensor, load_fashion_mnist

        images = images_as_tensor(load_fashion_mnist("train"))
    device = get_device()
    result = measure(config, images, args.steps, args.warmup, args.compile, device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"{torch.get_num_threads()} CPU threads"
    print(f"{config.name} config, batch {config.batch_size}, {name}, compile={args.compile}: "
          f"{result['steps_per_second']:.1f} steps/s, {result['images_per_second']:.0f} images/s")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
