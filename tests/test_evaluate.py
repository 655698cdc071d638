"""FMNIST-FD: the Fréchet distance on synthetic Gaussians, the cached classifier, input checks and the command line.

The classifier tests use the smoke-mode classifier (trained once per module, in seconds, in a temporary cache).
"""

import math
from pathlib import Path

import matplotlib
import pytest
import torch

from solutions import data
from solutions import evaluate as ev
from tests.test_data import needs_local_data

matplotlib.use("Agg")


def _random_spd(dim, generator):
    a = torch.randn(dim, dim, generator=generator, dtype=torch.float64)
    return a @ a.T + 0.1 * torch.eye(dim, dtype=torch.float64)


# ---------------------------------------------------------------------------------------------------------------------
# The Fréchet distance alone, on synthetic statistics


def test_frechet_distance_of_a_set_with_itself_is_zero():
    features = torch.randn(300, 16, generator=torch.Generator().manual_seed(1)) * 3 + 1
    mean, cov = ev.feature_statistics(features)
    assert ev.frechet_distance(mean, cov, mean, cov) == pytest.approx(0, abs=1e-9)


def test_frechet_distance_matches_the_diagonal_closed_form():
    """Commuting (diagonal) covariances: FD = |m1 - m2|² + Σ (√a - √b)²."""
    generator = torch.Generator().manual_seed(2)
    m1, m2 = torch.randn(6, generator=generator, dtype=torch.float64), torch.randn(6, generator=generator, dtype=torch.float64)
    a, b = (
        torch.rand(6, generator=generator, dtype=torch.float64) + 0.1,
        torch.rand(6, generator=generator, dtype=torch.float64) * 4,
    )
    expected = float((m1 - m2).square().sum() + (a.sqrt() - b.sqrt()).square().sum())
    assert ev.frechet_distance(m1, torch.diag(a), m2, torch.diag(b)) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_matches_the_2x2_closed_form_for_non_commuting_covariances():
    """In 2-D, Tr (C1 C2)^½ = sqrt(Tr(C1 C2) + 2 sqrt(det C1 det C2)) (the square-root formula for 2x2 matrices)."""
    generator = torch.Generator().manual_seed(3)
    for _ in range(5):
        c1, c2 = _random_spd(2, generator), _random_spd(2, generator)
        m1, m2 = torch.randn(2, generator=generator, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
        assert not torch.allclose(c1 @ c2, c2 @ c1)
        trace_sqrt = math.sqrt(float((c1 @ c2).trace()) + 2 * math.sqrt(float(c1.det() * c2.det())))
        expected = float((m1 - m2).square().sum() + c1.trace() + c2.trace()) - 2 * trace_sqrt
        assert ev.frechet_distance(m1, c1, m2, c2) == pytest.approx(expected, rel=1e-9)
        assert ev.frechet_distance(m2, c2, m1, c1) == pytest.approx(expected, rel=1e-9)  # symmetric


def test_frechet_distance_is_finite_and_nonnegative_for_singular_covariances():
    """Fewer samples than features: rank-deficient covariances, as with a student's 16 samples."""
    generator = torch.Generator().manual_seed(4)
    mean1, cov1 = ev.feature_statistics(torch.randn(5, 20, generator=generator))
    mean2, cov2 = ev.feature_statistics(torch.randn(7, 20, generator=generator) + 0.5)
    assert torch.linalg.matrix_rank(cov1) < 20
    distance = ev.frechet_distance(mean1, cov1, mean2, cov2)
    assert math.isfinite(distance) and distance > 0
    assert ev.frechet_distance(mean1, cov1, mean1, cov1) == pytest.approx(0, abs=1e-9)


def test_frechet_distance_grows_with_the_gap():
    cov = _random_spd(8, torch.Generator().manual_seed(5))
    zero = torch.zeros(8, dtype=torch.float64)
    distances = [ev.frechet_distance(zero, cov, torch.full((8,), shift, dtype=torch.float64), cov) for shift in (0.5, 1, 2)]
    assert distances == pytest.approx([8 * 0.25, 8 * 1.0, 8 * 4.0], rel=1e-9)  # same covariance: only the means count


# ---------------------------------------------------------------------------------------------------------------------
# Input checks: each message says what is wrong and what to do


@pytest.mark.parametrize(
    "samples, message",
    [
        (torch.zeros(4, 28, 28), r"samples\[:, None\]"),
        (torch.zeros(4, 3, 28, 28), "grayscale"),
        (torch.zeros(4, 1, 32, 32), "32x32"),
        (torch.zeros(4, 784), r"\(N, 1, 28, 28\)"),
        (torch.zeros(4, 1, 28, 28, dtype=torch.uint8), "floats in"),
        (torch.full((4, 1, 28, 28), 1.5), r"clamp\(-1, 1\)"),
        (torch.full((4, 1, 28, 28), float("nan")), "NaN"),
        (torch.zeros(1, 1, 28, 28), "at least 2"),
    ],
)
def test_bad_samples_get_a_message_that_says_what_to_do(samples, message):
    with pytest.raises(ValueError, match=message):
        ev.check_samples(samples)


def test_non_tensors_are_refused():
    with pytest.raises(TypeError, match="torch.Tensor"):
        ev.check_samples([[0.0] * 784] * 4)


def test_few_samples_warn_that_fd_is_inflated():
    with pytest.warns(UserWarning, match="small N"):
        ev.check_samples(torch.zeros(10, 1, 28, 28))


# ---------------------------------------------------------------------------------------------------------------------
# With the smoke classifier (real data)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A temporary cache folder holding a freshly trained smoke classifier."""
    folder = tmp_path_factory.mktemp("ddpm-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DDPM_CACHE_DIR", str(folder))
        ev.classifier(fast=True, progress=False)
        yield folder


@pytest.fixture(scope="module")
def test_split():
    """The test images (and labels) that the smoke classifier's reference statistics come from."""
    return ev._load_split("test", ev.SMOKE.test_limit)


@needs_local_data
def test_classifier_is_cached_and_reused(cache, monkeypatch):
    path = ev.cache_path(fast=True)
    assert path.parent == cache and path.exists() and f"v{ev.VERSION}" in path.name
    assert not list(cache.glob("*.tmp")), "the temporary file was not renamed"
    before = path.stat().st_mtime_ns

    def no_training(*args, **kwargs):
        raise AssertionError("retrained although the cache is valid")

    monkeypatch.setattr(ev, "train_classifier", no_training)
    model = ev.classifier(fast=True)
    assert not model.training and 0 <= model.test_accuracy <= 1
    assert path.stat().st_mtime_ns == before


@needs_local_data
def test_a_corrupt_or_stale_cache_is_retrained(cache, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DDPM_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(ev, "SMOKE", ev.TrainSpec("smoke", steps=2, batch_size=8, lr=1e-3, train_limit=64, test_limit=64))
    calls = []
    train = ev.train_classifier
    monkeypatch.setattr(ev, "train_classifier", lambda *args, **kwargs: calls.append(1) or train(*args, **kwargs))
    path = ev.cache_path(fast=True)
    path.write_bytes(b"not a checkpoint")
    ev.classifier(fast=True, progress=False)
    assert len(calls) == 1 and "unreadable" in capsys.readouterr().out
    ev.classifier(fast=True, progress=False)  # now valid: loaded, not retrained
    assert len(calls) == 1
    monkeypatch.setattr(ev, "SMOKE", ev.TrainSpec("smoke", steps=3, batch_size=8, lr=1e-3, train_limit=64, test_limit=64))
    ev.classifier(fast=True, progress=False)  # same file name, another training spec: stale
    assert len(calls) == 2 and "another version" in capsys.readouterr().out


def test_an_interrupted_save_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "cache.pt"
    ev._save_atomically({"version": 0}, path)
    before = path.read_bytes()

    def half_save(content, f):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(ev.torch, "save", half_save)
    with pytest.raises(KeyboardInterrupt):
        ev._save_atomically({"version": 1}, path)
    assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]


@needs_local_data
def test_real_images_score_far_better_than_blurred_than_noise(cache):
    points = ev.reference_points(n=200, fast=True)
    assert list(points) == ["real train images", "blurred train images", "pure noise"]
    real, blurred, noise = points.values()
    assert 0 <= real < blurred < noise, points
    assert noise > 5 * real, points


@needs_local_data
def test_the_reference_images_themselves_score_zero(cache, test_split):
    """The whole pipeline on the very images behind the reference statistics: FD ~ 0, whatever their order."""
    images, _ = test_split
    assert ev.classifier(fast=True).features(images[:5]).shape == (5, ev.FashionClassifier.FEATURE_DIM)
    assert ev.fmnist_fd(images, fast=True) == pytest.approx(0, abs=1e-6)
    assert ev.fmnist_fd(images.flip(0), fast=True) == pytest.approx(0, abs=1e-6)
    assert ev.fmnist_fd(images[: len(images) // 2], fast=True) > 0.1  # half of them: another mean, another covariance


@needs_local_data
def test_histogram_counts_every_sample_and_finds_the_labelled_class(cache, test_split):
    images, labels = test_split
    result = ev.evaluate(images, fast=True)
    assert list(result["class_histogram"]) == data.CLASS_NAMES
    assert sum(result["class_histogram"].values()) == result["n"] == len(images)
    assert 0.1 <= result["mean_confidence"] <= 1
    accuracy = (ev.classifier(fast=True)(images).argmax(1) == labels).float().mean().item()
    assert accuracy > 0.6, f"smoke classifier accuracy {accuracy:.2f}"
    trousers = images[labels == data.CLASS_NAMES.index("Trouser")]
    histogram = ev.evaluate(trousers, fast=True)["class_histogram"]
    assert max(histogram, key=histogram.get) == "Trouser" and histogram["Trouser"] > 0.8 * len(trousers), histogram


@needs_local_data
def test_samples_on_another_dtype_or_without_grad_tracking_still_work(cache, test_split):
    images = test_split[0][:100]
    expected = ev.fmnist_fd(images, fast=True)
    assert ev.fmnist_fd(images.double().requires_grad_(), fast=True) == pytest.approx(expected, rel=1e-5)


@needs_local_data
def test_plot_shows_the_counts(cache, test_split):
    result = ev.evaluate(test_split[0][:100], fast=True)
    ax = ev.plot_class_histogram(result)
    assert [bar.get_height() for bar in ax.patches] == list(result["class_histogram"].values())
    assert "FMNIST-FD" in ax.get_title()


@needs_local_data
def test_command_line_prints_the_metric_and_the_references(cache, test_split, tmp_path, capsys):
    samples = test_split[0][:100]
    torch.save(samples, tmp_path / "samples.pt")
    assert ev.main([str(tmp_path / "samples.pt"), "--reference", "--fast"]) == 0
    out = capsys.readouterr().out
    assert f"FMNIST-FD {ev.fmnist_fd(samples, fast=True):.3f} on 100 samples" in out
    assert "reference points at N = 100" in out and "pure noise" in out
    with pytest.raises(SystemExit):
        ev.main([])
    torch.save(samples * 2, tmp_path / "unclamped.pt")
    with pytest.raises(SystemExit):
        ev.main([str(tmp_path / "unclamped.pt"), "--fast"])
    assert "clamp(-1, 1)" in capsys.readouterr().err


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DDPM_CACHE_DIR", str(tmp_path))
    assert ev.cache_path(fast=True).parent == tmp_path
    assert ev.cache_path(fast=True) != ev.cache_path(fast=False)
    monkeypatch.delenv("DDPM_CACHE_DIR")
    assert ev.cache_dir() == Path.home() / ".cache" / "ddpm-course"
