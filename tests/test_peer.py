"""The peer runner (benchmarks/peer.py): a seconds-long run of the library's recipe, and the missing-library error."""

import sys
from dataclasses import replace

import pytest
import torch

from benchmarks import peer

# The README's dim=64 U-Net (36 M parameters) takes tens of seconds per optimiser step on two CPU cores. A
# narrow U-Net on batches of 4 keeps every other choice (four levels, so 28 pads to 32; two batches accumulated
# per step; flips; EMA) and takes a few seconds, most of it first-call set-up.
SMALL = replace(peer.PeerRecipe(), dim=8, batch_size=4)


def test_default_recipe_is_the_readme_model():
    pytest.importorskip("denoising_diffusion_pytorch")
    core, _, _ = peer.import_library()
    diffusion = peer.build_peer(core, peer.PeerRecipe(), 1, (32, 32), 250, torch.device("cpu"))
    assert diffusion.objective == "pred_v" and diffusion.num_timesteps == 1000 and diffusion.is_ddim_sampling
    assert diffusion.model.channels == 1 and diffusion.model.downsample_factor == 8
    assert sum(p.numel() for p in diffusion.parameters()) > 30_000_000


def test_run_peer_trains_and_samples_in_our_range():
    pytest.importorskip("denoising_diffusion_pytorch")
    images = torch.rand(64, 1, 28, 28) * 2 - 1
    result = peer.run_peer(images, minutes=0.05, samples=4, sampling_steps=2, device="cpu", progress=False, recipe=SMALL)
    assert set(result) == {"name", "parameters", "steps", "train_seconds", "images_per_second", "sampling_seconds",
                           "sampling_steps", "samples"}  # fmt: skip
    assert result["name"].startswith("denoising-diffusion-pytorch ")
    assert result["steps"] > 0 and result["parameters"] > 0 and result["sampling_steps"] == 2
    assert result["train_seconds"] >= 3 and result["images_per_second"] > 0 and result["sampling_seconds"] > 0
    samples = result["samples"]
    assert samples.shape == (4, 1, 28, 28) and samples.device.type == "cpu" and samples.dtype == torch.float32
    assert samples.min() >= -1 and samples.max() <= 1 and torch.isfinite(samples).all()


def test_padding_round_trip_keeps_the_image_and_pads_with_background():
    images = torch.rand(2, 1, 28, 28) * 2 - 1
    pad = (*peer.padding_for(28, 8), *peer.padding_for(28, 8))
    padded = peer.to_library_range(images, pad)
    assert pad == (2, 2, 2, 2) and padded.shape == (2, 1, 32, 32)
    assert padded[..., :2, :].eq(0).all() and padded[..., :, -2:].eq(0).all()  # black background in [0, 1]
    assert torch.allclose(peer.from_library_range(padded, pad, 28, 28), images, atol=1e-6)


def test_without_the_library_the_error_names_the_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "denoising_diffusion_pytorch", None)  # None in sys.modules makes the import fail
    with pytest.raises(peer.PeerUnavailableError, match=r"pip install denoising-diffusion-pytorch==\d"):
        peer.run_peer(torch.zeros(4, 1, 28, 28), minutes=0.01, samples=1)
