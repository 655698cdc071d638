"""The peer recipe: lucidrains' ``denoising-diffusion-pytorch`` trained the way its README trains it.

``python -m benchmarks.quality --peer`` trains this beside the course's own recipe, for the same
wall-clock minutes on the same Fashion-MNIST tensor, and scores both sets of samples the same way.
The library's ``Unet`` and ``GaussianDiffusion`` are used as they are; only the ``Trainer``'s
plumbing (an image folder, a DataLoader, ``accelerate``) is replaced by a short loop over an
in-memory tensor that repeats the ``Trainer``'s recipe step for step.

The library is optional (``benchmarks/requirements.txt`` pins the tested version): this module imports
without it, and ``run_peer`` raises ``PeerUnavailableError`` saying how to install it.

Line numbers below are in ``denoising_diffusion_pytorch/denoising_diffusion_pytorch.py`` of version 2.3.4.
"""

import time
from dataclasses import dataclass
from importlib import metadata
from unittest import mock

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from solutions.runtime import get_device

PACKAGE = "denoising-diffusion-pytorch"
TESTED_VERSION = "2.3.4"
INSTALL_COMMAND = f"pip install {PACKAGE}=={TESTED_VERSION}"


class PeerUnavailableError(ImportError):
    """The optional peer library is not installed."""


@dataclass(frozen=True)
class PeerRecipe:
    """The library's own recipe, value by value: its README example, else its ``Trainer``'s defaults.

    Left to the library's defaults (so not repeated here): ``GaussianDiffusion``'s objective
    ``'pred_v'`` and ``'sigmoid'`` beta schedule (lines 486-487), DDIM ``eta = 0`` (489),
    ``auto_normalize=True`` (490, data in [0, 1]), no offset noise or min-SNR weighting (491-492);
    the ``Unet``'s attention layout (linear attention, full attention at the innermost level, 293);
    ``ema_pytorch.EMA``'s other defaults, as the Trainer leaves them: for the first 100 steps the EMA copies
    the weights every 10th step, then averages every 10th step with a decay warming up towards 0.995.
    """

    dim: int = 64  # README: Unet(dim=64, dim_mults=(1, 2, 4, 8)), also the Unet defaults (line 282)
    dim_mults: tuple = (1, 2, 4, 8)
    timesteps: int = 1000  # README: GaussianDiffusion(timesteps=1000), also the default (484)
    sampling_steps: int = 250  # README: sampling_timesteps=250, i.e. DDIM (537: DDIM whenever < timesteps)
    batch_size: int = 32  # README: Trainer(train_batch_size=32)
    accumulate: int = 2  # README: gradient_accumulate_every=2, so 64 images per optimiser step
    lr: float = 8e-5  # README: train_lr=8e-5; Trainer uses Adam (962)
    adam_betas: tuple = (0.9, 0.99)  # Trainer default (900)
    ema_decay: float = 0.995  # README and Trainer default (899); EMA built at 967
    ema_update_every: int = 10  # Trainer default (898)
    max_grad_norm: float = 1.0  # Trainer default (910), clipped every step (1075)
    hflip: bool = True  # Trainer default augment_horizontal_flip=True (895) -> RandomHorizontalFlip (872)


def import_library():
    """(the library's core module, ``ema_pytorch.EMA``, its version), imported lazily so this module imports without them."""
    try:
        from denoising_diffusion_pytorch import denoising_diffusion_pytorch as core
        from ema_pytorch import EMA
    except ImportError as error:
        raise PeerUnavailableError(
            f"the peer recipe needs the optional library {PACKAGE}: {INSTALL_COMMAND} (pinned in benchmarks/requirements.txt)"
        ) from error
    return core, EMA, metadata.version(PACKAGE)


def build_peer(core, recipe, channels, image_size, sampling_steps, device):
    """The README's ``Unet`` + ``GaussianDiffusion``, on ``device``.

    The README turns on ``flash_attn``; we do so on CUDA only, since the flash kernels are a GPU feature.
    """
    model = core.Unet(dim=recipe.dim, dim_mults=recipe.dim_mults, channels=channels, flash_attn=device.type == "cuda")
    steps = dict(timesteps=recipe.timesteps, sampling_timesteps=sampling_steps)
    return core.GaussianDiffusion(model, image_size=image_size, **steps).to(device)


def padding_for(size, factor):
    """(before, after) padding that makes ``size`` divisible by ``factor``, split evenly (28 -> 2 + 28 + 2 for 8)."""
    total = -size % factor
    return total // 2, total - total // 2


def to_library_range(images, pad):
    """Our [-1, 1] images -> the library's [0, 1] (it normalises to [-1, 1] itself), padded with the
    background: Fashion-MNIST's background is black, 0 in [0, 1]. ``pad`` is (left, right, top, bottom).

    The Trainer's image folder would resize 28 -> 32 instead (line 871); padding keeps the pixels the
    course's recipe sees, so cropping the samples gives images comparable with its own.
    """
    return F.pad((images + 1) / 2, pad, value=0.0)


def from_library_range(samples, pad, height, width):
    """The library's samples in [0, 1] -> ours: cropped back to ``height`` x ``width``, in [-1, 1]."""
    left, _, top, _ = pad
    return (samples[..., top : top + height, left : left + width] * 2 - 1).clamp(-1, 1)


def shuffled_batches(n, batch_size):
    """Index batches forever, one random permutation per epoch: the Trainer's cycled DataLoader with
    ``shuffle=True`` (lines 955-958), whose last batch of an epoch may be smaller."""
    while True:
        yield from torch.randperm(n).split(batch_size)


def random_hflip(x):
    """Flip each image left-right with probability 1/2, as ``T.RandomHorizontalFlip`` does per image."""
    flip = torch.rand(len(x), device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def train_peer(diffusion, ema, images, recipe, pad, seconds, device, progress=True):
    """The Trainer's step (lines 1057-1084) until ``seconds`` of wall clock have passed (checked after
    each step, so at least one step runs). Returns (optimiser steps, images seen, seconds).

    Mixed precision: the README asks for ``amp=True`` (fp16, the Trainer's default type, 905); we use it on
    CUDA only, like accelerate, whose fp16 is a CUDA feature. CPU trains in float32.
    """
    optimizer = torch.optim.Adam(diffusion.parameters(), lr=recipe.lr, betas=recipe.adam_betas)
    amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    batches = shuffled_batches(len(images), recipe.batch_size)
    steps = seen = 0
    layout = "{desc}: {percentage:3.0f}%|{bar}| {n}/{total} s [{elapsed}<{remaining}{postfix}]"  # a rate in s/s says nothing
    bar = tqdm(total=round(seconds), desc="peer training", bar_format=layout, disable=not progress)
    started = time.monotonic()
    while True:
        diffusion.train()
        loss_total = 0.0
        for _ in range(recipe.accumulate):
            x = to_library_range(images[next(batches)].to(device), pad)
            x = random_hflip(x) if recipe.hflip else x
            with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                loss = diffusion(x) / recipe.accumulate
            scaler.scale(loss).backward()
            loss_total += loss.item()
            seen += len(x)
        scaler.unscale_(optimizer)  # clip the true gradients, as accelerate's clip_grad_norm_ does under fp16
        torch.nn.utils.clip_grad_norm_(diffusion.parameters(), recipe.max_grad_norm)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad()
        steps += 1
        ema.update()
        elapsed = time.monotonic() - started
        bar.update(min(int(elapsed), bar.total) - bar.n)
        bar.set_postfix(step=steps, loss=f"{loss_total:.4f}")
        if elapsed >= seconds:
            break
    bar.close()
    return steps, seen, elapsed


def sample_peer(core, sampler, n, batch_size, progress=True):
    """``n`` samples in [0, 1] from ``sampler`` (a ``GaussianDiffusion``), ``batch_size`` at a time, on the CPU.

    The library's samplers draw their own ``tqdm`` bar per batch (lines 714 and 691); we relabel it
    with the batch number, or hide it when ``progress`` is off.
    """
    sampler.eval()  # the Trainer samples the EMA model in eval mode (1087)
    sizes = [min(batch_size, n - start) for start in range(0, n, batch_size)]
    batches = []
    for index, size in enumerate(sizes, 1):
        label = f"peer sampling {index}/{len(sizes)}"

        def relabelled(iterable, *args, label=label, **kwargs):
            return tqdm(iterable, *args, **{**kwargs, "desc": label, "leave": False, "disable": not progress})

        with mock.patch.object(core, "tqdm", relabelled):
            batches.append(sampler.sample(batch_size=size).float().cpu())
    return torch.cat(batches)


def run_peer(images, minutes, samples, sampling_steps=None, seed=0, device=None, progress=True, sample_batch=250, recipe=None):
    """Train the peer library's own recipe for ``minutes`` of wall clock on ``images``, then sample it.

    Args:
        images: float tensor (N, C, H, W) in [-1, 1], e.g. ``images_as_tensor(load_fashion_mnist("train"))``.
            Padded with the background to a size the U-Net accepts (28 -> 32) and cropped back after sampling.
        minutes: the training budget in wall-clock minutes (model building and sampling not included).
        samples: how many images to generate from the EMA weights, ``sample_batch`` at a time.
        sampling_steps: DDIM steps (the library's ``sampling_timesteps``); None: the README's 250.
            Equal to the recipe's 1000 timesteps, the library runs its ancestral sampler instead.
        seed: seeds torch before building (weights, training) and ``seed + 1`` before sampling.
        device: where to train (None: ``solutions.runtime.get_device()``).
        recipe: a ``PeerRecipe`` (None: the library's own, see the class).
    Returns a dict: name, parameters, steps (optimiser steps), train_seconds, images_per_second (training
    images per second), sampling_seconds, sampling_steps and samples (samples, C, H, W) in [-1, 1] on the CPU.
    Raises ``PeerUnavailableError`` when the library is not installed.
    """
    core, EMA, version = import_library()
    recipe = recipe or PeerRecipe()
    sampling_steps = recipe.sampling_steps if sampling_steps is None else int(sampling_steps)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    if minutes <= 0 or samples < 1 or not 1 <= sampling_steps <= recipe.timesteps:
        raise ValueError(f"need minutes > 0, samples >= 1 and 1 <= sampling_steps <= {recipe.timesteps}")
    device = torch.device(device) if device is not None else get_device()
    _, channels, height, width = images.shape
    factor = 2 ** (len(recipe.dim_mults) - 1)  # the U-Net halves the size this many times (its downsample_factor)
    pad = (*padding_for(width, factor), *padding_for(height, factor))
    size = (height + pad[2] + pad[3], width + pad[0] + pad[1])

    torch.manual_seed(seed)
    diffusion = build_peer(core, recipe, channels, size, sampling_steps, device)
    ema = EMA(diffusion, beta=recipe.ema_decay, update_every=recipe.ema_update_every).to(device)  # as the Trainer (967)
    steps, seen, train_seconds = train_peer(diffusion, ema, images, recipe, pad, 60 * minutes, device, progress)

    torch.manual_seed(seed + 1)
    started = time.monotonic()
    generated = sample_peer(core, ema.ema_model, samples, sample_batch, progress)
    sampling_seconds = time.monotonic() - started
    return {
        "name": f"{PACKAGE} {version}",
        "parameters": sum(p.numel() for p in diffusion.parameters()),
        "steps": steps,
        "train_seconds": train_seconds,
        "images_per_second": seen / train_seconds,
        "sampling_seconds": sampling_seconds,
        "sampling_steps": sampling_steps,
        "samples": from_library_range(generated, pad, height, width),
    }
