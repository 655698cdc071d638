"""The training loop on real data, checkpoints, the command line and the figures."""

import json
from dataclasses import replace

import pytest
import torch
from PIL import Image

from solutions import data, plotting, training
from solutions.runtime import fast_mode, get_device, seed_everything
from tests.test_data import needs_local_data

TINY = replace(training.SMOKE_CONFIG, dim=8, dim_mults=(1, 2), batch_size=32, timesteps=100, lr=2e-3, ema_start=5)


@pytest.fixture(scope="module")
def real_images():
    if not (data.DEBIAN_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("install Debian's dataset-fashion-mnist (CI does) for the real-data tests")
    return data.images_as_tensor(data.load_fashion_mnist("train", limit=256, data_dir=data.DEBIAN_DIR))


@needs_local_data
def test_loss_falls_on_real_fashion_mnist(real_images):
    state = training.build_state(TINY, "cpu")
    training.train(state, real_images, max_steps=60, progress=False)
    first, last = sum(state.losses[:10]) / 10, sum(state.losses[-10:]) / 10
    assert state.step == 60 and len(state.losses) == 60
    assert last < 0.7 * first, f"loss went from {first:.3f} to {last:.3f}"


def test_training_is_reproducible():
    images = torch.rand(64, 1, 28, 28) * 2 - 1
    runs = []
    for _ in range(2):
        state = training.build_state(TINY, "cpu")
        training.train(state, images, max_steps=3, progress=False)
        runs.append(state.losses)
    assert runs[0] == runs[1]


def test_checkpoint_resumes_where_it_stopped(tmp_path):
    images = torch.rand(64, 1, 28, 28) * 2 - 1
    state = training.build_state(TINY, "cpu")
    training.train(state, images, out_dir=tmp_path, max_steps=4, progress=False)
    resumed = training.load_checkpoint(tmp_path / "checkpoint.pt", "cpu")
    assert resumed.step == 4 and resumed.losses == state.losses and resumed.config == state.config
    for a, b in zip(resumed.ema.model.parameters(), state.ema.model.parameters()):
        torch.testing.assert_close(a, b)
    training.train(resumed, images, max_steps=6, progress=False)
    assert resumed.step == 6 and len(resumed.losses) == 6


def test_ema_copies_then_averages():
    model = torch.nn.Linear(2, 2)
    ema = training.EMA(model, decay=0.9, start=2)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model, step=1)  # before start: a copy
    torch.testing.assert_close(ema.model.weight, torch.ones(2, 2))
    with torch.no_grad():
        model.weight.fill_(3.0)
    ema.update(model, step=2)
    torch.testing.assert_close(ema.model.weight, torch.full((2, 2), 0.9 * 1.0 + 0.1 * 3.0))
    assert not any(p.requires_grad for p in ema.model.parameters())


def test_configs_fit_their_machines():
    assert training.config_for("cpu", fast=True).name == "smoke"
    assert training.config_for("cpu", fast=False).name == "cpu"
    assert training.config_for("cuda", fast=False).name == "gpu" and training.GPU_CONFIG.mixed_precision
    for config in (training.SMOKE_CONFIG, training.CPU_CONFIG, training.GPU_CONFIG):
        assert config.diffusion_schedule().reaches_noise()
        assert config.model()(torch.zeros(1, 1, 28, 28), torch.tensor([0])).shape == (1, 1, 28, 28)
    cpu_params = sum(p.numel() for p in training.CPU_CONFIG.model().parameters())
    assert cpu_params < 2e6, "the CPU configuration must stay small enough to train in minutes"


def test_short_linear_schedule_is_refused():
    """§5: training for a schedule that never reaches noise is a mistake worth stopping for."""
    with pytest.raises(ValueError, match="not be pure noise"):
        training.build_state(replace(TINY, schedule="linear", timesteps=200), "cpu")


def test_train_rejects_images_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        training.train(training.build_state(TINY, "cpu"), torch.zeros(4, 3, 28, 28), max_steps=1, progress=False)


@needs_local_data
def test_command_line_writes_samples_grid_checkpoint_and_score(tmp_path, monkeypatch):
    monkeypatch.setenv("DDPM_FAST", "1")
    monkeypatch.setenv("DDPM_CACHE_DIR", str(tmp_path / "cache"))
    assert fast_mode()
    out = tmp_path / "run"
    argv = ["--minutes", "1", "--samples", "4", "--out", str(out), "--sampler", "ddim", "--sampling-steps", "3"]
    with pytest.warns(UserWarning, match="covariance is singular"):  # 4 samples: the score works, and says it is rough
        assert training.main(argv) == 0
    samples = torch.load(out / "samples.pt")
    assert samples.shape == (4, 1, 28, 28) and samples.dtype == torch.float32
    assert samples.min() >= -1 and samples.max() <= 1
    assert Image.open(out / "samples.png").size[0] > 28
    assert (out / "checkpoint.pt").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == training.SMOKE_CONFIG.max_steps
    assert (summary["sampler"], summary["sampling_steps"], summary["n"]) == ("ddim", 3, 4)
    assert summary["fmnist_fd"] > 0 and sum(summary["class_histogram"].values()) == 4
    assert 0 < summary["mean_confidence"] <= 1 and summary["steps_per_second"] > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sampling-steps", "10"], "needs --sampler ddim"),
        (["--sampler", "ddim", "--sampling-steps", "0"], "must be >= 1"),
        (["--sampler", "euler"], "invalid choice"),
    ],
)
def test_command_line_refuses_bad_sampler_options(argv, message, capsys):
    with pytest.raises(SystemExit):
        training.main(argv)
    assert message in capsys.readouterr().err


def test_runtime_helpers(monkeypatch):
    assert get_device().type in {"cpu", "cuda", "mps"}
    seed_everything(3)
    a = torch.rand(2)
    seed_everything(3)
    assert torch.equal(a, torch.rand(2))
    monkeypatch.setenv("DDPM_FAST", "0")
    assert not fast_mode()


def test_figures(tmp_path):
    images = torch.linspace(-1, 1, 6 * 28 * 28).reshape(6, 1, 28, 28)
    grid = plotting.image_grid(images, nrow=3)
    assert grid.dtype.name == "uint8" and grid.shape == (2 * 30 + 2, 3 * 30 + 2, 3)
    path = plotting.save_image_grid(images, tmp_path / "grid.png", nrow=3)
    assert Image.open(path).size == (92, 62)
    frames = [images * (1 - i / 10) for i in range(30)]
    gif = Image.open(plotting.save_denoising_gif(frames, tmp_path / "rev.gif", nrow=3, max_frames=10))
    assert gif.n_frames == 10
    from solutions.schedules import DiffusionSchedule

    axes = plotting.plot_schedules({"linear": DiffusionSchedule.from_name("linear", 50)})
    assert len(axes) == 3 and len(axes[0].lines) == 1
    assert len(plotting.plot_losses([1.0] * 60, smooth=10).lines) == 2
    with pytest.raises(ValueError, match="return_all"):
        plotting.save_denoising_gif([], tmp_path / "x.gif")


@pytest.mark.parametrize(
    ("device", "capability", "expected"),
    [
        ("cuda", (7, 5), torch.float16),  # Colab's T4: bfloat16 would be emulated
        ("cuda", (7, 0), torch.float16),  # V100
        ("cuda", (8, 0), torch.bfloat16),  # A100
        ("cuda", (9, 0), torch.bfloat16),  # H100
        ("cpu", (9, 0), None),
        ("mps", (9, 0), None),
    ],
)
def test_mixed_precision_fits_the_gpu(monkeypatch, device, capability, expected):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # what emulation reports on a T4
    assert training.autocast_dtype(device) is expected


def _plain_training(config, images, steps):
    """Algorithm 1 written the obvious way (a host sync per step, one EMA update per tensor): the reference
    that ``training.train``'s device-friendly loop must reproduce exactly."""
    state = training.build_state(config, "cpu")
    generator = torch.Generator().manual_seed(config.seed)
    losses = []
    for step in range(1, steps + 1):
        x_0 = images[torch.randint(len(images), (config.batch_size,), generator=generator)]
        x_0 = data.random_hflip(x_0) if config.hflip else x_0
        t = torch.randint(0, config.timesteps, (config.batch_size,))
        loss = training.p_losses(state.model, state.schedule, x_0, t, loss_type=config.loss_type)
        state.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(state.model.parameters(), config.grad_clip)
        state.optimizer.step()
        losses.append(loss.item())
        decay = 0.0 if step < config.ema_start else config.ema_decay
        with torch.no_grad():
            for ema_param, param in zip(state.ema.model.parameters(), state.model.parameters()):
                ema_param.copy_(decay * ema_param + (1 - decay) * param)
    return state, losses


@pytest.mark.parametrize("hflip", [False, True])
def test_the_device_loop_gives_the_plain_loops_losses(hflip):
    """Data on the device, losses read back every ``log_every`` steps, a fused EMA: same numbers as the plain loop."""
    images = torch.rand(96, 1, 28, 28) * 2 - 1
    config = replace(TINY, ema_start=3, hflip=hflip)
    plain, expected = _plain_training(config, images, steps=11)
    state = training.build_state(config, "cpu")
    training.train(state, images, max_steps=11, progress=False, log_every=4)
    assert state.losses == expected and len(expected) == 11
    for a, b in zip(state.model.parameters(), plain.model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for a, b in zip(state.ema.model.parameters(), plain.ema.model.parameters()):
        torch.testing.assert_close(a, b)


def test_compile_uses_cuda_graphs_on_a_gpu_only(monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "compile", lambda model, mode=None: calls.append(mode) or model)
    model = torch.nn.Linear(2, 2)
    assert training.compiled(model, "cuda") is model and training.compiled(model, torch.device("cpu")) is model
    assert calls == ["reduce-overhead", None]
    state = training.build_state(TINY, "cpu")
    training.train(state, torch.rand(64, 1, 28, 28) * 2 - 1, max_steps=2, progress=False, compile=True)
    assert calls[-1] is None and state.step == 2
    with pytest.raises(ValueError, match="log_every"):
        training.train(state, torch.rand(64, 1, 28, 28), max_steps=3, progress=False, log_every=0)


def test_generate_with_ddim_or_ddpm_in_batches():
    state = training.build_state(TINY, "cpu")
    seed_everything(0)
    images = training.generate(state, 5, sampler="ddim", steps=4, progress=False, batch_size=2)
    assert images.shape == (5, 1, 28, 28) and images.abs().max() <= 1 + 1e-5
    seed_everything(0)
    from solutions import ddim

    expected = ddim.ddim_sample(state.ema.model, state.schedule, (5, 1, 28, 28), steps=4, progress=False)
    seed_everything(0)
    assert torch.equal(training.generate(state, 5, sampler="ddim", steps=4, progress=False), expected)
    frames = training.generate(state, 2, sampler="ddpm", return_all=True, progress=False)
    assert len(frames) == TINY.timesteps + 1
    with pytest.raises(ValueError, match="sampler='ddim'"):
        training.generate(state, 2, sampler="ddpm", steps=10)
    with pytest.raises(ValueError, match="sampler must be one of"):
        training.generate(state, 2, sampler="euler")


def test_fashion_mnist_trains_without_flips_and_flips_are_an_option(monkeypatch):
    """Fashion-MNIST's shoes face one way: a flip teaches mirrored shoes the data never has (colour sets may flip)."""
    assert not any(c.hflip for c in (training.CPU_CONFIG, training.GPU_CONFIG, training.SMOKE_CONFIG))
    left_dark = torch.linspace(-1, 1, 28).expand(8, 1, 28, 28).contiguous()  # mirrored, its left column is +1
    batches = []
    p_losses = training.p_losses
    monkeypatch.setattr(
        training, "p_losses", lambda model, schedule, x_0, t, **kw: batches.append(x_0) or p_losses(model, schedule, x_0, t, **kw)
    )
    mirrored = {}
    for hflip in (False, True):
        batches.clear()
        training.train(training.build_state(replace(TINY, hflip=hflip), "cpu"), left_dark, max_steps=4, progress=False)
        mirrored[hflip] = sum(int((x[:, 0, 0, 0] == 1).sum()) for x in batches)
    assert mirrored[False] == 0 and mirrored[True] > 0, mirrored
