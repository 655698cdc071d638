"""Training the noise-prediction U-Net on Fashion-MNIST (Ho et al. 2020, Algorithm 1).

Provided for students and instructors alike: AdamW, an exponential moving
average (EMA) of the weights for sampling, gradient clipping, checkpoints that
resume, periodic sample grids and a ``tqdm`` bar with the running loss.
From the course folder, once your exercises pass:

    python -m helpers.training --minutes 8 --samples 64 --out runs/cpu

(the instructors' reference copy of this package runs the same way under its own name).
"""

import argparse
import copy
import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from tqdm.auto import tqdm

from . import ddim
from .data import images_as_tensor, load_fashion_mnist, random_hflip
from .guidance import p_losses_cfg
from .losses import p_losses
from .plotting import save_image_grid
from .runtime import fast_mode, get_device, seed_everything
from .sampling import p_sample_loop
from .schedules import DiffusionSchedule
from .unet import Unet


@dataclass
class TrainConfig:
    """Everything that defines a run; saved in every checkpoint."""

    image_size: int = 28
    channels: int = 1
    dim: int = 24
    dim_mults: tuple = (1, 2, 4)
    resnet_block_groups: int = 4
    schedule: str = "cosine"
    timesteps: int = 1000
    loss_type: str = "l2"
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema_decay: float = 0.995
    ema_start: int = 50  # steps before the EMA starts averaging (early weights are noise)
    max_steps: int = 100_000
    minutes: float = None  # wall-clock budget; None means max_steps decides
    sample_every: int = 0  # save a sample grid every N steps (0: never)
    sample_grid: int = 16
    data_limit: int = None  # train on the first N images only
    mixed_precision: bool = False  # autocast on CUDA: see autocast_dtype
    hflip: bool = False  # random left-right flips: right for CIFAR-10, wrong for Fashion-MNIST's one-way shoes
    seed: int = 0
    num_classes: int = None  # K: a class-conditional model with label dropout (notebook 10); None: unconditional
    p_uncond: float = 0.1  # with num_classes: the probability of training on the "no class" token
    name: str = field(default="custom", compare=False)

    def model(self):
        return Unet(
            dim=self.dim,
            dim_mults=tuple(self.dim_mults),
            channels=self.channels,
            resnet_block_groups=self.resnet_block_groups,
            num_classes=self.num_classes,
        )

    def diffusion_schedule(self):
        return DiffusionSchedule.from_name(self.schedule, self.timesteps)


GPU_CONFIG = TrainConfig(name="gpu", dim=64, dim_mults=(1, 2, 4), resnet_block_groups=8, batch_size=128,
                         lr=2e-4, ema_decay=0.999, ema_start=500, sample_every=1000, mixed_precision=True)  # fmt: skip
# CPU: a 0.59 M-parameter U-Net, cosine schedule with T = 500 (half the sampling cost of 1000), EMA 0.995.
# Notebook 06 trains it for 12 minutes on a 2-core CPU; periodic grids are few and small (each costs T forward passes).
CPU_CONFIG = TrainConfig(name="cpu", dim=16, dim_mults=(1, 2, 4), resnet_block_groups=4, batch_size=32,
                         timesteps=500, lr=1e-3, ema_decay=0.995, ema_start=50, sample_every=500, sample_grid=8)  # fmt: skip
SMOKE_CONFIG = TrainConfig(name="smoke", dim=8, dim_mults=(1, 2), resnet_block_groups=4, batch_size=16,
                           timesteps=50, max_steps=20, sample_every=0, sample_grid=4, data_limit=512)  # fmt: skip


# Notebook 10: the same U-Nets, class-conditional (K = 10 classes plus the "no class" token), label dropout 0.1.
# On a CPU, T = 100: guided sampling calls the network twice per step, and notebook 10 draws hundreds of images.
CONDITIONAL_CONFIGS = {
    "gpu": replace(GPU_CONFIG, name="gpu-conditional", num_classes=10, sample_every=0),
    "cpu": replace(CPU_CONFIG, name="cpu-conditional", num_classes=10, timesteps=100, sample_every=0),
    "smoke": replace(SMOKE_CONFIG, name="smoke-conditional", num_classes=10, timesteps=8, max_steps=4),
}


def config_for(device, fast=None, conditional=False):
    """The configuration that fits: smoke mode, a GPU, or a CPU-sized model (said aloud)."""
    fast = fast_mode() if fast is None else fast
    if conditional:
        return replace(CONDITIONAL_CONFIGS["smoke" if fast else "gpu" if torch.device(device).type == "cuda" else "cpu"])
    if fast:
        return replace(SMOKE_CONFIG)
    if torch.device(device).type == "cuda":
        return replace(GPU_CONFIG)
    return replace(CPU_CONFIG)


class EMA:
    """Exponential moving average of a model's weights: ``ema = decay * ema + (1 - decay) * w``.

    Sampling with the averaged weights gives smoother images than the last
    iterate (Ho et al. use decay 0.9999).
    """

    def __init__(self, model, decay=0.995, start=0):
        self.decay = decay
        self.start = start
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self._params = list(self.model.parameters())
        self._buffers = list(self.model.buffers())

    @torch.no_grad()
    def update(self, model, step):
        weight = 1.0 if step < self.start else 1.0 - self.decay  # copy the weights until averaging starts
        # one fused call for all tensors instead of one small kernel per tensor (a GPU spends its time launching those)
        torch._foreach_lerp_(self._params, [p.detach() for p in model.parameters()], weight)
        if self._buffers:
            torch._foreach_copy_(self._buffers, list(model.buffers()))


@dataclass
class TrainState:
    config: TrainConfig
    model: torch.nn.Module
    ema: EMA
    optimizer: torch.optim.Optimizer
    schedule: DiffusionSchedule
    step: int = 0
    losses: list = field(default_factory=list)
    seconds: float = 0.0


def build_state(config, device):
    schedule = config.diffusion_schedule()
    if not schedule.reaches_noise():
        abar_T = float(schedule.alphas_cumprod[-1])
        raise ValueError(
            f"the {config.schedule} schedule with T={config.timesteps} ends at abar_T = {abar_T:.3f}: "
            "x_T would not be pure noise, yet sampling starts from N(0, I). Use the cosine schedule or a longer T."
        )
    seed_everything(config.seed)
    model = config.model().to(device)
    # fused: one kernel for the whole update on CUDA (the same AdamW arithmetic)
    fused = torch.device(device).type == "cuda"
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=fused)
    return TrainState(config, model, EMA(model, config.ema_decay, config.ema_start), optimizer, schedule.to(device))


def save_checkpoint(state, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "config": asdict(state.config),
            "model": state.model.state_dict(),
            "ema": state.ema.model.state_dict(),
            "optimizer": state.optimizer.state_dict(),
            "step": state.step,
            "losses": state.losses,
            "seconds": state.seconds,
            "rng": torch.get_rng_state(),
        },
        path,
    )
    return path


def load_checkpoint(path, device=None):
    """Rebuild the ``TrainState`` saved at ``path`` (to resume training or to sample)."""
    device = device or get_device()
    data = torch.load(path, map_location=device, weights_only=False)
    config = TrainConfig(**{**data["config"], "dim_mults": tuple(data["config"]["dim_mults"])})
    state = build_state(config, device)
    state.model.load_state_dict(data["model"])
    state.ema.model.load_state_dict(data["ema"])
    state.optimizer.load_state_dict(data["optimizer"])
    state.step, state.losses, state.seconds = data["step"], data["losses"], data["seconds"]
    torch.set_rng_state(data["rng"].cpu())  # map_location moved it to the device with the weights
    return state


SAMPLERS = ("ddpm", "ddim")


def generate(state, n, sampler="ddpm", steps=None, eta=0.0, clip_denoised=True, return_all=False, progress=True,
             batch_size=256):  # fmt: skip
    """``n`` images from the EMA weights, with x0-clipping by default (contract: ``clip_denoised=True``).

    Args:
        sampler: ``"ddpm"``, the ancestral sampler of Algorithm 2 with all T steps (your ``p_sample_loop``), or
            ``"ddim"``, Song et al.'s sampler (your ``ddim_step``) with ``steps`` updates (default 50) and ``eta``.
        steps: DDIM updates; for DDPM only None or T.
        batch_size: images per batch (memory); with ``return_all`` all ``n`` go in one batch.
    Returns ``(n, C, H, W)`` on the model's device, or the list of intermediate batches with ``return_all``.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    config = state.config
    if sampler == "ddpm" and steps not in (None, config.timesteps):
        raise ValueError(f"ancestral sampling takes all T={config.timesteps} steps; use sampler='ddim' for {steps} steps")
    steps = steps or (config.timesteps if sampler == "ddpm" else 50)

    def draw(count, show):
        shape = (count, config.channels, config.image_size, config.image_size)
        if sampler == "ddim":
            return ddim.ddim_sample(state.ema.model, state.schedule, shape, steps=steps, eta=eta, clip_denoised=clip_denoised,
                                    return_all=return_all, progress=show)  # fmt: skip
        return p_sample_loop(state.ema.model, state.schedule, shape, clip_denoised=clip_denoised, return_all=return_all,
                             progress=show)  # fmt: skip

    if return_all or n <= batch_size:
        return draw(n, progress)
    sizes = [min(batch_size, n - start) for start in range(0, n, batch_size)]
    return torch.cat([draw(size, False) for size in tqdm(sizes, desc=f"{sampler} {steps} steps", disable=not progress)])


def autocast_dtype(device):
    """The mixed-precision dtype for training on ``device``, or None for full float32.

    bfloat16 needs no gradient scaling but only Ampere and later GPUs (compute capability 8.0+)
    compute it natively; ``torch.cuda.is_bf16_supported()`` also counts emulation, which is slow
    on Colab's T4 (7.5). Older GPUs get float16, whose small range needs the ``GradScaler``.
    CPU and MPS train in float32.
    """
    device = torch.device(device)
    if device.type != "cuda":
        return None
    major, _ = torch.cuda.get_device_capability(device)
    return torch.bfloat16 if major >= 8 else torch.float16


def compiled(model, device):
    """``model`` through ``torch.compile``, sharing its weights; on CUDA with CUDA graphs ("reduce-overhead").

    The course's GPU model is small: a training step launches about 1,500 tiny kernels, and launching them from
    Python takes longer than running them. A CUDA graph replays the whole forward and backward pass as one launch.
    """
    return torch.compile(model, mode="reduce-overhead" if torch.device(device).type == "cuda" else None)


def train(state, images, out_dir=None, minutes=None, max_steps=None, progress=True, log_every=25, compile=False,
          labels=None):  # fmt: skip
    """Algorithm 1 until ``max_steps`` or ``minutes`` of wall time, whichever comes first.

    Args:
        state: a ``TrainState`` (fresh from ``build_state`` or resumed with ``load_checkpoint``).
        images: float tensor ``(N, C, H, W)`` in [-1, 1] (``data.images_as_tensor``).
        out_dir: where checkpoints and periodic sample grids go (None: nowhere).
        log_every: read the losses back from the device every this many steps (the bar's loss updates then).
        compile: run the model through ``torch.compile`` (see ``compiled``; the first steps are slow while it compiles).
        labels: LongTensor ``(N,)`` of the images' classes, for a class-conditional config (``num_classes``): the
            loss is then ``p_losses_cfg`` with label dropout ``config.p_uncond`` (Ho & Salimans 2022, Algorithm 1).
    Returns the state, trained further; ``state.losses`` holds every step's loss.

    On a GPU the loop keeps the host from waiting: the whole data set sits on the device, batches are drawn
    there, and a loss is only read back every ``log_every`` steps (``loss.item()`` makes the CPU wait for the
    GPU to finish, each step).
    """
    config = state.config
    minutes = config.minutes if minutes is None else minutes
    max_steps = config.max_steps if max_steps is None else max_steps
    if images.ndim != 4 or images.shape[1:] != (config.channels, config.image_size, config.image_size):
        raise ValueError(
            f"images must have shape (N, {config.channels}, {config.image_size}, {config.image_size}), got {tuple(images.shape)}"
        )
    if log_every < 1:
        raise ValueError(f"log_every must be >= 1, got {log_every}")
    if (config.num_classes is None) != (labels is None):
        raise ValueError("a class-conditional config (num_classes) trains with labels, an unconditional one without")
    if labels is not None and labels.shape != (len(images),):
        raise ValueError(f"labels must have shape ({len(images)},), got {tuple(labels.shape)}")
    if labels is not None and len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < config.num_classes:
        raise ValueError(f"labels must lie in 0 ... {config.num_classes - 1}, got {int(labels.min())} ... {int(labels.max())}")
    device = next(state.model.parameters()).device
    images = images.to(device)  # once: Fashion-MNIST is 188 MB as float32
    labels = None if labels is None else labels.to(device).long()
    amp_dtype = autocast_dtype(device) if config.mixed_precision else None
    use_amp = amp_dtype is not None
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    eps_model = compiled(state.model, device) if compile else state.model
    generator = torch.Generator(device).manual_seed(config.seed + state.step)
    deadline = time.monotonic() + 60 * minutes if minutes else None
    started, start_seconds = time.monotonic(), state.seconds
    bar = tqdm(total=max_steps, initial=state.step, desc="training", disable=not progress)
    pending = []  # this interval's losses, still on the device

    def read_losses():
        if pending:
            state.losses.extend(torch.stack(pending).float().cpu().tolist())
            bar.update(len(pending))
            pending.clear()
            bar.set_postfix(loss=f"{sum(state.losses[-100:]) / len(state.losses[-100:]):.4f}")

    state.model.train()
    while state.step < max_steps and (deadline is None or time.monotonic() < deadline):
        index = torch.randint(len(images), (config.batch_size,), generator=generator, device=device)
        x_0 = random_hflip(images[index]) if config.hflip else images[index]
        t = torch.randint(0, config.timesteps, (config.batch_size,), device=device)  # Algorithm 1, line 3 (0-based)
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=use_amp):
            if labels is None:
                loss = p_losses(eps_model, state.schedule, x_0, t, loss_type=config.loss_type)
            else:
                # a compiled model hands num_classes (read by p_losses_cfg) through to the Unet
                loss = p_losses_cfg(eps_model, state.schedule, x_0, t, labels[index], p_uncond=config.p_uncond)
        state.optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(state.optimizer)
        torch.nn.utils.clip_grad_norm_(state.model.parameters(), config.grad_clip)
        scaler.step(state.optimizer)
        scaler.update()
        state.step += 1
        state.ema.update(state.model, state.step)
        pending.append(loss.detach())
        state.seconds = start_seconds + time.monotonic() - started
        if state.step % log_every == 0:
            read_losses()
        if out_dir and config.sample_every and state.step % config.sample_every == 0:
            read_losses()
            save_image_grid(
                generate(state, config.sample_grid, progress=False), Path(out_dir) / f"samples_step{state.step:06d}.png", nrow=4
            )
            save_checkpoint(state, Path(out_dir) / "checkpoint.pt")
    read_losses()
    state.seconds = start_seconds + time.monotonic() - started  # the device has caught up
    bar.close()
    state.model.eval()
    if out_dir:
        save_checkpoint(state, Path(out_dir) / "checkpoint.pt")
    return state


def sample_and_score(state, samples, out_dir, sampler="ddpm", steps=None, fast=None, progress=True):
    """Draw ``samples`` images, save samples.pt and samples.png, score them with FMNIST-FD; returns the figures."""
    from . import evaluate  # the classifier loads (or trains, once) only when scoring

    seed_everything(state.config.seed + 1)
    started = time.monotonic()
    generated = generate(state, samples, sampler=sampler, steps=steps, progress=progress).clamp(-1, 1).cpu()
    sampling_seconds = time.monotonic() - started
    torch.save(generated, out_dir / "samples.pt")
    save_image_grid(generated, out_dir / "samples.png", nrow=max(1, int(samples**0.5)))
    figures = {"sampler": sampler, "sampling_steps": steps or (state.config.timesteps if sampler == "ddpm" else 50),
               "sampling_seconds": round(sampling_seconds, 1)}  # fmt: skip
    if state.config.channels == 1 and state.config.image_size == 28:  # the metric is made for Fashion-MNIST
        figures.update(evaluate.evaluate(generated, fast=fast))
    return figures


def run(minutes, samples, out_dir, resume=False, fast=None, data_limit=None, progress=True, sampler="ddpm",
        sampling_steps=None, compile=False):  # fmt: skip
    """The command-line job: train for ``minutes``, then write samples.pt, samples.png, checkpoint.pt and summary.json."""
    out_dir = Path(out_dir)
    device = get_device()
    checkpoint = out_dir / "checkpoint.pt"
    if resume and checkpoint.exists():
        state = load_checkpoint(checkpoint, device)
        print(f"resuming '{state.config.name}' from step {state.step}")
    else:
        config = config_for(device, fast)
        if data_limit:
            config.data_limit = data_limit
        state = build_state(config, device)
    config = state.config
    params = sum(p.numel() for p in state.model.parameters())
    print(
        f"device {device}: '{config.name}' configuration, U-Net dim={config.dim} mults={tuple(config.dim_mults)} "
        f"({params / 1e6:.2f} M parameters), {config.schedule} schedule T={config.timesteps}, batch {config.batch_size}"
    )
    if device.type == "cpu" and config.name == "cpu":
        print("No GPU found: using the CPU-sized configuration (a GPU trains the full one).")
    images = images_as_tensor(load_fashion_mnist("train", limit=config.data_limit))
    steps_before, seconds_before = state.step, state.seconds
    train(state, images, out_dir=out_dir, minutes=minutes, progress=progress, compile=compile)
    steps, seconds = state.step - steps_before, max(state.seconds - seconds_before, 1e-9)
    summary = {"config": config.name, "device": device.type, "parameters": params, "steps": state.step,
               "train_seconds": round(state.seconds, 1), "steps_per_second": round(steps / seconds, 2),
               "images_per_second": round(steps * config.batch_size / seconds, 1),
               "final_loss": sum(state.losses[-100:]) / max(1, len(state.losses[-100:])), "samples": samples}  # fmt: skip
    summary.update(sample_and_score(state, samples, out_dir, sampler, sampling_steps, fast=fast, progress=progress))
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    drawn = f"{samples} samples ({sampler}, {summary['sampling_steps']} steps) in {summary['sampling_seconds']:.0f} s"
    print(f"{state.step} steps in {state.seconds:.0f} s; {drawn}; wrote samples.png, samples.pt, checkpoint.pt, summary.json")
    if "fmnist_fd" in summary:
        print(f"FMNIST-FD {summary['fmnist_fd']:.2f} over {samples} samples (lower is better; see notebook 06 for the scale)")
    return state


def main(argv=None):
    parser = argparse.ArgumentParser(prog=f"python -m {__package__}.training", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="wall-clock training budget (default 10)")
    parser.add_argument("--samples", type=int, default=64, help="images to generate at the end (default 64)")
    parser.add_argument("--out", default="runs/latest", help="output folder (default runs/latest)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt if it exists")
    parser.add_argument("--fast", action="store_true", help="smoke mode: a tiny model for a few steps (also DDPM_FAST=1)")
    parser.add_argument("--data-limit", type=int, default=None, help="train on the first N images only")
    parser.add_argument("--sampler", choices=SAMPLERS, default="ddpm",
                        help="ddpm: ancestral, all T steps (default); ddim: --sampling-steps DDIM updates")  # fmt: skip
    parser.add_argument("--sampling-steps", type=int, default=None, help="DDIM updates (default 50)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model for training (GPU runs)")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.samples < 1:
        parser.error("--minutes must be > 0 and --samples >= 1")
    if args.sampling_steps is not None and args.sampler != "ddim":
        parser.error("--sampling-steps needs --sampler ddim (ancestral sampling takes all T steps)")
    if args.sampling_steps is not None and args.sampling_steps < 1:
        parser.error("--sampling-steps must be >= 1")
    run(args.minutes, args.samples, args.out, resume=args.resume, fast=args.fast or None, data_limit=args.data_limit,
        sampler=args.sampler, sampling_steps=args.sampling_steps, compile=args.compile)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
