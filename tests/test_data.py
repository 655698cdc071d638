"""The Fashion-MNIST loader on the real local IDX files, its errors, and the transforms."""

import gzip
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from solutions import data

DEBIAN = data.DEBIAN_DIR
needs_local_data = pytest.mark.skipif(
    not (DEBIAN / "t10k-images-idx3-ubyte.gz").exists(),
    reason="install Debian's dataset-fashion-mnist (CI does) for the real-data tests",
)


@needs_local_data
def test_real_test_split_has_the_hub_schema(monkeypatch):
    monkeypatch.delenv("DDPM_DATA_DIR", raising=False)
    dataset = data.load_fashion_mnist("test")
    assert len(dataset) == 10_000
    assert set(dataset.column_names) == {"image", "label"}
    assert dataset.features["label"].names == data.CLASS_NAMES
    first = dataset[0]
    assert isinstance(first["image"], Image.Image) and first["image"].size == (28, 28) and first["image"].mode == "L"
    assert first["label"] == 9  # the first test image of Fashion-MNIST is an ankle boot
    assert np.bincount(dataset["label"]).tolist() == [1000] * 10


@needs_local_data
def test_limit_and_data_dir_override(tmp_path, monkeypatch):
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        with gzip.open(DEBIAN / name) as src, open(tmp_path / name.removesuffix(".gz"), "wb") as dst:
            shutil.copyfileobj(src, dst)  # uncompressed copies: both forms are read
    monkeypatch.setenv("DDPM_DATA_DIR", str(tmp_path))
    dataset = data.load_fashion_mnist("train", limit=100)
    assert len(dataset) == 100 and dataset[0]["label"] == 9 and dataset[1]["label"] == 0


def test_missing_data_names_both_remedies(tmp_path, monkeypatch):
    def offline(split):
        raise ConnectionError("hub unreachable")

    monkeypatch.setenv("DDPM_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(data, "_load_from_hub", offline)
    with pytest.raises(data.DataNotFoundError) as info:
        data.load_fashion_mnist("train")
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message and "DDPM_DATA_DIR" in message
    assert "internet" in message and "hub unreachable" in message


def test_hub_is_used_when_no_local_files(tmp_path, monkeypatch):
    from datasets import Dataset

    calls = []

    def fake_hub(split):
        calls.append(split)
        return Dataset.from_dict({"image": [Image.new("L", (28, 28))] * 3, "label": [1, 2, 3]}, features=data._features())

    monkeypatch.setenv("DDPM_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(data, "_load_from_hub", fake_hub)
    dataset = data.load_fashion_mnist("test", limit=2)
    assert calls == ["test"] and len(dataset) == 2


def test_bad_split_and_bad_files(tmp_path):
    with pytest.raises(ValueError, match="'train' or 'test'"):
        data.load_fashion_mnist("validation")
    bad = tmp_path / "x-idx1-ubyte"
    bad.write_bytes(b"\x00\x01\x02\x03")
    with pytest.raises(ValueError, match="magic"):
        data.read_idx(bad)
    truncated = tmp_path / "y-idx1-ubyte"
    truncated.write_bytes(b"\x00\x00\x08\x01" + (10).to_bytes(4, "big") + b"\x01\x02")
    with pytest.raises(ValueError, match="truncated"):
        data.read_idx(truncated)


def test_transform_maps_to_minus_one_one_and_flips():
    pixels = np.zeros((28, 28), dtype=np.uint8)
    pixels[:, :14] = 255  # left half white
    image = Image.fromarray(pixels)
    plain = data.image_transform(flip=False)(image)
    assert plain.shape == (1, 28, 28) and plain.min() == -1 and plain.max() == 1
    assert plain[0, 0, 0] == 1 and plain[0, 0, -1] == -1
    torch.manual_seed(0)
    flipped = [data.image_transform(flip=True)(image)[0, 0, 0].item() for _ in range(40)]
    assert 5 < flipped.count(-1.0) < 35  # both orientations occur


def test_dataset_helpers_give_model_ready_tensors():
    from datasets import Dataset

    images = [Image.fromarray(np.full((28, 28), value, dtype=np.uint8)) for value in (0, 255, 51)]
    dataset = Dataset.from_dict({"image": images, "label": [0, 1, 2]}, features=data._features())
    tensor = data.images_as_tensor(dataset)
    assert tensor.shape == (3, 1, 28, 28) and tensor.dtype == torch.float32
    assert tensor[0].unique().tolist() == [-1.0] and tensor[1].unique().tolist() == [1.0]
    assert tensor[2].unique().item() == pytest.approx(51 / 255 * 2 - 1)
    item = data.with_pixel_values(dataset, flip=False)[1]
    assert item["pixel_values"].shape == (1, 28, 28) and item["label"] == 1
    batch = torch.arange(8.0).reshape(1, 1, 2, 4).repeat(64, 1, 1, 1)
    flipped = data.random_hflip(batch)
    same = (flipped == batch).flatten(1).all(1)
    mirrored = (flipped == batch.flip(-1)).flatten(1).all(1)
    assert bool((same | mirrored).all()) and 10 < int(same.sum()) < 54
    torch.testing.assert_close(
        data.from_model_range(data.to_model_range(torch.tensor([0.0, 0.25, 1.0]))), torch.tensor([0.0, 0.25, 1.0])
    )
