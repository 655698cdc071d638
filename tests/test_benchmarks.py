"""The benchmark commands in smoke mode: they run end to end and print what the README records."""

import json
import re

import pytest
import torch

from benchmarks import quality, speed
from solutions import training
from tests.test_data import needs_local_data


@pytest.fixture
def smoke(monkeypatch, tmp_path):
    monkeypatch.setenv("DDPM_FAST", "1")
    monkeypatch.setenv("DDPM_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.slow
@needs_local_data
@pytest.mark.filterwarnings("ignore:.*covariance is singular")
def test_quality_prints_both_recipes_in_one_table(smoke, tmp_path, capsys):
    pytest.importorskip("denoising_diffusion_pytorch")
    out = tmp_path / "bench"
    assert quality.main(["--minutes", "0.03", "--samples", "6", "--sampling-steps", "2", "--peer", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = [line for line in printed.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 4, printed  # header, the course, the peer, real images
    assert rows[1].startswith("| this course (smoke config)") and "ddim 2 steps" in rows[1]
    assert rows[2].startswith("| denoising-diffusion-pytorch") and "(dim 16)" in rows[2]
    for row in rows[1:]:
        assert re.search(r"\| \d+\.\d\d \|", row), row  # an FMNIST-FD in every row
    results = json.loads((out / "results.json").read_text())
    assert [row["steps"] > 0 for row in results["rows"]] == [True, True]
    assert sum(results["rows"][0]["class_histogram"].values()) == 6
    assert (out / "course_samples.png").exists() and (out / "peer_samples.png").exists() and (out / "checkpoint.pt").exists()


def test_quality_rejects_a_bad_budget(capsys):
    with pytest.raises(SystemExit):
        quality.main(["--minutes", "0"])
    assert "--minutes must be > 0" in capsys.readouterr().err


def test_speed_measures_the_training_loop():
    images = torch.rand(64, 1, 28, 28) * 2 - 1
    result = speed.measure(training.SMOKE_CONFIG, images, steps=3, warmup=1, device=torch.device("cpu"))
    assert result["steps_per_second"] > 0
    assert result["images_per_second"] == pytest.approx(result["steps_per_second"] * training.SMOKE_CONFIG.batch_size)


@pytest.mark.filterwarnings("ignore:.*covariance is singular")
def test_samplers_compares_ddim_with_the_full_chain(smoke, tmp_path, capsys):
    state = training.build_state(training.SMOKE_CONFIG, "cpu")
    training.save_checkpoint(state, tmp_path / "checkpoint.pt")
    from benchmarks import samplers

    assert samplers.main([str(tmp_path / "checkpoint.pt"), "--samples", "4", "--steps", "2", "5"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| dd")]
    assert [row.split(" | ")[:2] for row in rows] == [["| ddpm", "50"], ["| ddim", "2"], ["| ddim", "5"]]
    assert rows[0].split(" | ")[3] == "+0.0%"
