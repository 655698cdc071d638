"""Fashion-MNIST as a Hugging Face ``datasets.Dataset``, from local IDX files or the hub.

Either source gives the same schema: ``image`` (a 28x28 grayscale PIL image)
and ``label`` (a ``ClassLabel`` with the ten clothing names).
"""

import gzip
import os
from pathlib import Path

import numpy as np
import torch
from torchvision import transforms

HUB_NAME = "zalando-datasets/fashion_mnist"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASS_NAMES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
_IDX_PREFIX = {"train": "train", "test": "t10k"}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4")}


class DataNotFoundError(FileNotFoundError):
    """Neither the local files nor the hub could provide the data set."""


def local_data_dir():
    """Where local IDX files are looked for: ``$DDPM_DATA_DIR`` if set, else Debian's folder."""
    env = os.environ.get("DDPM_DATA_DIR")
    return Path(env) if env else DEBIAN_DIR


def read_idx(path):
    """Read an IDX file (optionally gzipped) into a numpy array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    array = np.frombuffer(data, dtype=_IDX_DTYPES[data[2]], offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{path} is truncated: expected {int(np.prod(shape))} values, found {array.size}")
    return array.reshape(shape)


def _find_idx(folder, split, kind):
    for suffix in ("-ubyte.gz", "-ubyte"):
        path = folder / f"{_IDX_PREFIX[split]}-{kind}-idx{3 if kind == 'images' else 1}{suffix}"
        if path.exists():
            return path
    return None


def _features():
    from datasets import ClassLabel, Features, Image

    return Features({"image": Image(), "label": ClassLabel(names=CLASS_NAMES)})


def _load_local(folder, split, limit):
    from datasets import Dataset
    from PIL import Image

    images = read_idx(_find_idx(folder, split, "images"))
    labels = read_idx(_find_idx(folder, split, "labels"))
    if len(images) != len(labels):
        raise ValueError(f"{folder}: {len(images)} images but {len(labels)} labels for split {split!r}")
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    pil = [Image.fromarray(a) for a in images]
    return Dataset.from_dict({"image": pil, "label": labels.astype(np.int64).tolist()}, features=_features())


def _load_from_hub(split):
    from datasets import load_dataset

    return load_dataset(HUB_NAME, split=split)


def load_fashion_mnist(split="train", limit=None, data_dir=None):
    """Load Fashion-MNIST as a ``datasets.Dataset`` with columns ``image`` (PIL) and ``label``.

    Sources, in order: IDX files in ``data_dir`` (default ``$DDPM_DATA_DIR``,
    else ``/usr/share/datasets/fashion-mnist/`` from Debian's
    ``dataset-fashion-mnist``), then the Hugging Face hub.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
        limit: keep only the first ``limit`` examples (handy for quick runs).
        data_dir: a folder with the four IDX files (gzipped or not).
    """
    if split not in _IDX_PREFIX:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    folder = Path(data_dir) if data_dir else local_data_dir()
    if _find_idx(folder, split, "images") and _find_idx(folder, split, "labels"):
        return _load_local(folder, split, limit)
    try:
        dataset = _load_from_hub(split)
    except Exception as error:
        raise DataNotFoundError(
            f"Fashion-MNIST ({split}) is not available. No IDX files in {folder} and the hub "
            f"({HUB_NAME}) failed: {type(error).__name__}: {error}\n"
            "Fix one of these:\n"
            "  - local files: `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or put "
            f"{_IDX_PREFIX[split]}-images-idx3-ubyte.gz and {_IDX_PREFIX[split]}-labels-idx1-ubyte.gz "
            "in a folder and set DDPM_DATA_DIR to it;\n"
            "  - the hub: connect to the internet (and unset HF_HUB_OFFLINE / HF_DATASETS_OFFLINE)."
        ) from error
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))
    return dataset


def to_model_range(x):
    """[0, 1] -> [-1, 1], the range the paper trains in (Ho et al., Section 3.3)."""
    return x * 2 - 1


def from_model_range(x):
    """[-1, 1] -> [0, 1], for display."""
    return ((x + 1) / 2).clamp(0, 1)


def image_transform(flip=True):
    """PIL image -> float tensor ``(C, H, W)`` in [-1, 1], with random horizontal flips
    (Ho et al. use them on CIFAR-10: 'slightly better sample quality')."""
    steps = [transforms.RandomHorizontalFlip()] if flip else []
    return transforms.Compose([*steps, transforms.ToTensor(), transforms.Lambda(to_model_range)])


def with_pixel_values(dataset, flip=True):
    """The dataset with an on-the-fly ``pixel_values`` column instead of ``image``."""
    transform = image_transform(flip)

    def apply(batch):
        return {"pixel_values": [transform(image) for image in batch["image"]], "label": batch["label"]}

    return dataset.with_transform(apply)


def images_as_tensor(dataset):
    """All images of ``dataset`` as one float tensor ``(N, C, H, W)`` in [-1, 1] (no flips).

    Faster than per-batch PIL decoding when the whole set fits in memory,
    as Fashion-MNIST does (60,000 x 28 x 28 floats = 188 MB).
    """
    arrays = np.stack([np.asarray(image, dtype=np.uint8) for image in dataset["image"]])
    if arrays.ndim == 3:
        arrays = arrays[:, None]
    else:
        arrays = arrays.transpose(0, 3, 1, 2)
    return to_model_range(torch.from_numpy(arrays.copy()).float() / 255.0)


def labels_as_tensor(dataset):
    """The class labels of ``dataset`` as a LongTensor ``(N,)``, in the order of ``images_as_tensor``."""
    return torch.as_tensor(np.asarray(dataset["label"], dtype=np.int64))


def random_hflip(batch):
    """Flip each image of a ``(B, C, H, W)`` batch left-right with probability 1/2."""
    flip = torch.rand(batch.shape[0], device=batch.device) < 0.5
    return torch.where(flip[:, None, None, None], batch.flip(-1), batch)
