"""FMNIST-FD: a number for how close generated images are to Fashion-MNIST.

The idea is FID's (Heusel et al. 2017) at Fashion-MNIST's scale: a small classifier, trained once on the
train split, maps each image to a feature vector (its penultimate layer); the generated samples and the
test split each become a Gaussian in that space (a mean and a covariance), and the Fréchet distance between
the two Gaussians is the score. Lower is better; 0 means the same feature statistics. FD depends on the
number of samples N (a small N alone makes it larger), so compare runs at the same N and read the number
next to ``reference_points(n=N)``: real images, blurred images and pure noise scored the same way.
For this classifier, at N = 1000: real train images about 2.6, blurred ones about 90, pure noise about 900
(at N = 500: about 6, 97 and 900).

    classifier(device=None, fast=None, progress=True)  # the FashionClassifier: trained the first time
                                                       # (about 80 s on a CPU), then loaded from the cache
    evaluate(samples, fast=None, device=None)          # {"fmnist_fd", "class_histogram", "mean_confidence", "n"}
    fmnist_fd(samples, fast=None, device=None)         # the score alone
    reference_points(n=500, fast=None, device=None, seed=0)  # {"real train images", "blurred train images", "pure noise"}
    plot_class_histogram(result, ax=None)              # which classes the samples look like

``samples`` is a float tensor ``(N, 1, 28, 28)`` in [-1, 1], N >= 2 (a few hundred for a stable number), on any
device. ``fast=None`` asks ``fast_mode()``: smoke mode (``DDPM_FAST=1``) trains a tiny classifier in seconds
instead. ``device=None`` means the CPU. The classifier and the test split's feature statistics are cached in
``$DDPM_CACHE_DIR`` (default ``~/.cache/ddpm-course``). From the course folder, for the ``samples.pt`` that
the training command saves:

    python -m helpers.evaluate runs/cpu/samples.pt --reference

(the instructors' reference copy of this package runs the same way under its own name).
"""

import argparse
import os
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms.functional import gaussian_blur
from tqdm.auto import tqdm

from .data import CLASS_NAMES, images_as_tensor, load_fashion_mnist
from .runtime import fast_mode

VERSION = 1  # part of the cache file's name: bump it when FashionClassifier changes, so old weights are not loaded
IMAGE_SHAPE = (1, 28, 28)
BLUR_SIGMA = 1.0  # pixels: enough to wipe out the texture and thin edges, not the silhouette


@dataclass(frozen=True)
class TrainSpec:
    """How the classifier is trained; stored in the cache file, and a cache made with another spec is retrained."""

    name: str
    steps: int
    batch_size: int
    lr: float
    train_limit: int = None  # first N train images (None: all 60,000)
    test_limit: int = None  # first N test images for the reference statistics (None: all 10,000)
    seed: int = 0


FULL = TrainSpec("full", steps=1400, batch_size=256, lr=5e-3)  # 6 epochs, about 80 s on one core: 92 % test accuracy
SMOKE = TrainSpec("smoke", steps=120, batch_size=64, lr=3e-3, train_limit=2048, test_limit=1000)  # a few seconds, for CI


class FashionClassifier(nn.Module):
    """A compact CNN for 28x28 Fashion-MNIST: three stride-2 convolutions (28 -> 14 -> 7 -> 4), then two linear layers.

    ``features(x)`` is the penultimate layer, ``(B, FEATURE_DIM)``: the space FMNIST-FD is measured in.
    ``forward(x)`` gives the ten class logits. Inputs: ``(B, 1, 28, 28)`` in [-1, 1].
    """

    WIDTHS = (24, 48, 96)  # channels of the three convolutions
    FEATURE_DIM = 64  # few enough for a few hundred samples to estimate the covariance

    def __init__(self):
        super().__init__()
        blocks, channels = [], 1
        for width in self.WIDTHS:
            # BatchNorm lets a short, high learning-rate schedule converge; stride 2 is cheaper than conv + pool on a CPU
            blocks += [nn.Conv2d(channels, width, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
            channels = width
        self.conv = nn.Sequential(*blocks)
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(channels * 4 * 4, self.FEATURE_DIM), nn.ReLU())
        self.head = nn.Linear(self.FEATURE_DIM, len(CLASS_NAMES))

    def features(self, x):
        """``(B, 1, 28, 28)`` -> ``(B, FEATURE_DIM)``, nonnegative (after a ReLU)."""
        return self.embed(self.conv(x))

    def forward(self, x):
        return self.head(self.features(x))


# ---------------------------------------------------------------------------------------------------------------------
# Checking the input: the messages say what is wrong and how to fix it


def check_samples(samples, minimum=2):
    """Raise a ``TypeError`` or ``ValueError`` that says how to fix ``samples``, unless it is ``(N, 1, 28, 28)`` float in [-1, 1].

    Warns if N is below the feature width (a singular covariance: FD then mostly measures the small N).
    """
    if not isinstance(samples, torch.Tensor):
        raise TypeError(f"samples must be a torch.Tensor of shape (N, 1, 28, 28), got {type(samples).__name__}")
    samples = samples.detach()
    shape = tuple(samples.shape)
    if samples.ndim == 3 and shape[1:] == IMAGE_SHAPE[1:]:
        raise ValueError(f"samples must have shape (N, 1, 28, 28), got {shape}: add the channel axis with samples[:, None]")
    if samples.ndim != 4 or shape[1:] != IMAGE_SHAPE:
        hint = ""
        if samples.ndim == 4 and shape[1] != 1:
            hint = f": Fashion-MNIST is grayscale (1 channel), these images have {shape[1]}"
        elif samples.ndim == 4 and shape[2:] != IMAGE_SHAPE[1:]:
            hint = f": the classifier reads 28x28 images, these are {shape[2]}x{shape[3]}"
        raise ValueError(f"samples must have shape (N, 1, 28, 28), got {shape}{hint}")
    if not samples.is_floating_point():
        raise ValueError(
            f"samples must be floats in [-1, 1], got dtype {samples.dtype}; for 0..255 pixels use samples.float() / 127.5 - 1"
        )
    bad = int((~torch.isfinite(samples)).sum())
    if bad:
        raise ValueError(f"samples hold {bad} NaN or infinite values: the sampler diverged (check the schedule and the model)")
    low, high = float(samples.min()), float(samples.max())
    if low < -1 - 1e-6 or high > 1 + 1e-6:
        raise ValueError(
            f"samples must lie in [-1, 1] (the model's range), got values in [{low:.3g}, {high:.3g}]: "
            "use samples.clamp(-1, 1) (the training command does)"
        )
    if len(samples) < minimum:
        raise ValueError(f"need at least {minimum} samples to estimate a covariance, got {len(samples)}")
    if len(samples) < FashionClassifier.FEATURE_DIM:
        warnings.warn(
            f"{len(samples)} samples for {FashionClassifier.FEATURE_DIM} features: the covariance is singular and FD is "
            "inflated by the small N alone; generate a few hundred (and compare with reference_points at the same N)",
            stacklevel=3,
        )


# ---------------------------------------------------------------------------------------------------------------------
# The Fréchet distance between two Gaussians


def feature_statistics(features):
    """``(N, D)`` features -> their mean ``(D,)`` and covariance ``(D, D)``, in float64 (N >= 2)."""
    features = features.detach().to(torch.float64)
    return features.mean(0), torch.cov(features.T)


def _sqrt_psd(matrix):
    """The symmetric square root of a symmetric positive semi-definite matrix (round-off negatives set to 0)."""
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def frechet_distance(mean1, cov1, mean2, cov2):
    """Fréchet distance between N(mean1, cov1) and N(mean2, cov2): ``|m1 - m2|² + Tr(C1 + C2 - 2 (C1 C2)^½)``.

    Means ``(D,)``, covariances ``(D, D)`` symmetric PSD (singular is fine). ``(C1 C2)^½`` is not symmetric, but its
    trace equals that of ``(s C2 s)^½`` with ``s = C1^½``, which is symmetric PSD: two ``eigh`` calls in float64,
    no general matrix square root. Returns a Python float >= 0.
    """
    mean1, cov1, mean2, cov2 = (torch.as_tensor(t, dtype=torch.float64) for t in (mean1, cov1, mean2, cov2))
    root1 = _sqrt_psd(cov1)
    middle = root1 @ cov2 @ root1
    trace_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    distance = (mean1 - mean2).square().sum() + cov1.trace() + cov2.trace() - 2 * trace_sqrt
    return max(float(distance), 0.0)  # round-off can leave identical statistics a hair below 0


# ---------------------------------------------------------------------------------------------------------------------
# The classifier: trained once, cached on disk with the test split's feature statistics


def cache_dir():
    """``$DDPM_CACHE_DIR`` if set, else ``~/.cache/ddpm-course``."""
    env = os.environ.get("DDPM_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "ddpm-course"


def cache_path(fast=None):
    """Where the classifier for this mode lives; the name carries ``VERSION`` so a new architecture gets a new file."""
    spec = _spec(fast)
    return cache_dir() / f"fmnist-classifier-v{VERSION}-{spec.name}.pt"


def _spec(fast):
    return SMOKE if (fast_mode() if fast is None else fast) else FULL


def _load_split(split, limit):
    """``(N, 1, 28, 28)`` images in [-1, 1] and their ``(N,)`` int64 labels."""
    dataset = load_fashion_mnist(split, limit=limit)
    return images_as_tensor(dataset), torch.tensor(dataset["label"])


@contextmanager
def _one_thread():
    """Run PyTorch's CPU ops on one thread inside the block. For a network this small, more threads mostly wait on
    each other (on a busy or shared machine, several times slower than one), and one thread gives numbers that do not
    depend on the machine's thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@torch.no_grad()
def _features_and_logits(model, images, batch_size=500):
    """``(N, D)`` features and ``(N, 10)`` logits of ``images``, computed in batches on the model's device, on the CPU."""
    device = next(model.parameters()).device
    features, logits = [], []
    with _one_thread():
        for batch in images.split(batch_size):
            f = model.features(batch.to(device, torch.float32))
            features.append(f.cpu())
            logits.append(model.head(f).cpu())
    return torch.cat(features), torch.cat(logits)


def train_classifier(spec, progress=True):
    """Train a ``FashionClassifier`` on the train split (CPU, seeded) and measure it on the test split.

    Returns the cache content: ``{"version", "spec", "state_dict", "test_accuracy", "test_mean", "test_cov", "seconds"}``.
    """
    started = time.monotonic()
    images, labels = _load_split("train", spec.train_limit)
    with torch.random.fork_rng(devices=[]):  # seeding here leaves the caller's random stream alone
        torch.manual_seed(spec.seed)
        model = FashionClassifier()
    generator = torch.Generator().manual_seed(spec.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=1e-4)
    # one-cycle: warm up, then anneal to ~0, which gets the most accuracy out of a short, fixed budget
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=spec.lr, total_steps=spec.steps, pct_start=0.2)
    model.train()
    bar = tqdm(range(spec.steps), desc="FMNIST classifier", disable=not progress)
    with _one_thread():
        for _ in bar:
            index = torch.randint(len(images), (spec.batch_size,), generator=generator)
            loss = F.cross_entropy(model(images[index]), labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    model.eval()
    test_images, test_labels = _load_split("test", spec.test_limit)
    features, logits = _features_and_logits(model, test_images)
    mean, cov = feature_statistics(features)
    accuracy = (logits.argmax(1) == test_labels).double().mean().item()
    return {
        "version": VERSION,
        "spec": asdict(spec),
        "state_dict": model.state_dict(),
        "test_accuracy": accuracy,
        "test_mean": mean,
        "test_cov": cov,
        "seconds": time.monotonic() - started,
    }


def _save_atomically(content, path):
    """Write to a temporary file in the same folder, then rename: a reader sees the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as f:
            torch.save(content, f)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _load_cache(path, spec):
    """The cache content at ``path``, or None if it is missing, unreadable or made by another version or spec."""
    if not path.exists():
        return None
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
        if content["version"] == VERSION and content["spec"] == asdict(spec):
            FashionClassifier().load_state_dict(content["state_dict"])  # raises if the weights do not fit
            return content
        print(f"{path} was made by another version of the classifier: training a new one")
    except Exception as error:  # a half-copied or foreign file: rebuild it rather than fail the notebook
        print(f"{path} is unreadable ({type(error).__name__}): training a new classifier")
    return None


def _cached(fast=None, progress=True):
    """The cache content for this mode, training (and saving) it first if needed."""
    spec, path = _spec(fast), cache_path(fast)
    content = _load_cache(path, spec)
    if content is None:
        content = train_classifier(spec, progress=progress)
        _save_atomically(content, path)
        print(
            f"FMNIST classifier ({spec.name}): test accuracy {100 * content['test_accuracy']:.1f} %, "
            f"trained in {content['seconds']:.0f} s, cached in {path}"
        )
    return content


def classifier(device=None, fast=None, progress=True):
    """The trained ``FashionClassifier`` in eval mode on ``device`` (default: the CPU), from the cache or trained now.

    ``fast=None`` asks ``fast_mode()``: smoke mode uses a tiny, quickly trained classifier (its own cache file).
    ``progress`` shows a bar if training is needed. The model also carries ``test_accuracy`` (float) and
    ``test_stats``: the test split's feature ``(mean (D,), covariance (D, D))`` in float64, on the CPU.
    """
    content = _cached(fast, progress)
    model = FashionClassifier()
    model.load_state_dict(content["state_dict"])
    model.test_accuracy = content["test_accuracy"]
    model.test_stats = (content["test_mean"], content["test_cov"])
    return model.to(device or "cpu").eval().requires_grad_(False)


# ---------------------------------------------------------------------------------------------------------------------
# The metric and the reference points that give it a scale


def fmnist_fd(samples, fast=None, device=None):
    """FMNIST-FD of ``samples`` ``(N, 1, 28, 28)`` float in [-1, 1], N >= 2, against the test split. Lower is better."""
    return evaluate(samples, fast=fast, device=device)["fmnist_fd"]


def evaluate(samples, fast=None, device=None):
    """Score ``samples`` ``(N, 1, 28, 28)`` float in [-1, 1] (N >= 2; a few hundred for a stable number).

    Returns ``{"fmnist_fd": float, "class_histogram": {class name: count}, "mean_confidence": float, "n": N}``:
    the histogram counts the classifier's top class per sample (a mode-collapsed model piles into a few bars),
    the confidence is the mean top softmax probability (blurry or broken images get low values).
    """
    check_samples(samples)
    model = classifier(device=device, fast=fast)
    features, logits = _features_and_logits(model, samples.detach())
    mean, cov = feature_statistics(features)
    probabilities = logits.softmax(1)
    counts = torch.bincount(probabilities.argmax(1), minlength=len(CLASS_NAMES))
    return {
        "fmnist_fd": frechet_distance(mean, cov, *model.test_stats),
        "class_histogram": {name: int(count) for name, count in zip(CLASS_NAMES, counts)},
        "mean_confidence": probabilities.max(1).values.mean().item(),
        "n": len(samples),
    }


def blur(images, sigma=BLUR_SIGMA):
    """Gaussian blur of ``(N, C, H, W)`` images (a kernel of about ±3 sigma)."""
    size = 2 * round(3 * sigma) + 1
    return gaussian_blur(images, kernel_size=[size, size], sigma=[sigma, sigma])


def reference_points(n=500, fast=None, device=None, seed=0):
    """FMNIST-FD of three reference sets of ``n`` images, to read a sample's score against (use the samples' N).

    ``"real train images"``: the first ``n`` train images (the split is stored shuffled), about the best a model can
    reach at this N; ``"blurred train images"``: the same, Gaussian-blurred (sigma ``BLUR_SIGMA``), like an undertrained
    model; ``"pure noise"``: uniform noise in [-1, 1] (seeded by ``seed``), like a broken sampler.
    """
    real, _ = _load_split("train", n)
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(n, *IMAGE_SHAPE, generator=generator) * 2 - 1
    sets = {"real train images": real, "blurred train images": blur(real), "pure noise": noise}
    return {name: fmnist_fd(images, fast=fast, device=device) for name, images in sets.items()}


def plot_class_histogram(result, ax=None):
    """Bar chart of ``evaluate``'s class histogram, titled with FMNIST-FD and the mean confidence; returns the Axes.

    The dashed line is N/10, what a model that draws the ten (balanced) classes equally often would give.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.5))
    counts = list(result["class_histogram"].values())
    ax.bar(range(len(counts)), counts, color="tab:blue")
    ax.axhline(result["n"] / len(counts), color="gray", linestyle="--", linewidth=1)
    ax.set_xticks(range(len(counts)), list(result["class_histogram"]), rotation=30, ha="right")
    ax.set_ylabel("samples")
    ax.set_title(f"FMNIST-FD {result['fmnist_fd']:.2f}, mean confidence {result['mean_confidence']:.2f} (N = {result['n']})")
    return ax


def main(argv=None):
    parser = argparse.ArgumentParser(prog=f"python -m {__package__}.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("samples", nargs="?", help="a .pt file holding a float tensor (N, 1, 28, 28) in [-1, 1]")
    parser.add_argument("--reference", action="store_true", help="also print the reference points at the same N")
    parser.add_argument("-n", type=int, default=500, help="N for --reference without a samples file (default 500)")
    parser.add_argument("--fast", action="store_true", help="smoke mode: a tiny classifier (also DDPM_FAST=1)")
    args = parser.parse_args(argv)
    if not args.samples and not args.reference:
        parser.error("give a samples file, --reference, or both")
    fast = args.fast or None
    n = args.n
    if args.samples:
        samples = torch.load(args.samples, map_location="cpu", weights_only=True)
        try:
            result = evaluate(samples, fast=fast)
        except (TypeError, ValueError) as error:  # the input checks' messages, without a traceback
            parser.error(f"{args.samples}: {error}")
        n, fd, confidence = result["n"], result["fmnist_fd"], result["mean_confidence"]
        print(f"FMNIST-FD {fd:.3f} on {n} samples (lower is better), mean confidence {confidence:.3f}")
        print("classes: " + ", ".join(f"{name} {count}" for name, count in result["class_histogram"].items()))
    if args.reference:
        points = reference_points(n, fast=fast)
        print(f"reference points at N = {n}: " + ", ".join(f"{name} {fd:.3f}" for name, fd in points.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
