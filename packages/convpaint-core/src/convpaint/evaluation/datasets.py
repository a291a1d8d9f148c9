"""Evaluation datasets: a folder of images with ground-truth masks.

Layout::

    DATASET/
        images/<stem>.png|.tif|.tiff|.npy   2-D gray (Y, X) or RGB(A) (Y, X, 3|4)
        masks/<stem>.tif|.tiff|.png|.npy    integer label image (Y, X)
        index.json                          optional

``index.json`` (optional) is a list of objects ``{"index": "<stem>", "modality":
"...", ...}`` or a mapping ``{"<stem>": {"modality": "...", ...}}``; it gives each
image a modality (used to select and group subsets).  Images without a mask are
ignored.  Masks are *semantic* (every value a class, 0 = background) unless the
dataset holds *instance* masks: ``masks="instance"`` turns them into
foreground/background (``mask > 0``).  ``masks="auto"`` (default) picks
``instance`` when index.json entries carry an instance count (``n_nuclei`` or
``n_instances``, as in the DSB 2018 folder of ``../shared/data``), else ``semantic``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..scribbles import instances_to_semantic

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".npy")
MASK_SUFFIXES = (".tif", ".tiff", ".png", ".npy")
INSTANCE_KEYS = ("n_nuclei", "n_instances")
MASK_MODES = ("auto", "semantic", "instance")


@dataclass(frozen=True)
class Sample:
    """One image of a dataset."""

    name: str
    image_path: Path
    mask_path: Path
    modality: str = ""

    def load(self, masks: str = "semantic") -> tuple[np.ndarray, np.ndarray, str]:
        """Return (image, semantic mask, axes): RGBA loses alpha, RGB is "YXC"."""
        image = read_array(self.image_path)
        if image.ndim == 3 and image.shape[-1] == 4:
            image = image[..., :3]
        if image.ndim == 2:
            axes = "YX"
        elif image.ndim == 3 and image.shape[-1] == 3:
            axes = "YXC"
        else:
            raise ValueError(f"{self.image_path.name}: unsupported image shape {image.shape}")
        mask = read_array(self.mask_path)
        if mask.ndim == 3 and mask.shape[-1] in (3, 4):  # label PNG saved as RGB(A)
            mask = mask[..., 0]
        if mask.shape != image.shape[:2]:
            raise ValueError(
                f"{self.name}: mask shape {mask.shape} != image shape {image.shape[:2]}"
            )
        if not (np.issubdtype(mask.dtype, np.integer) or mask.dtype == bool):
            raise ValueError(f"{self.mask_path.name}: mask must be integer, got {mask.dtype}")
        mask = instances_to_semantic(mask) if masks == "instance" else mask.astype(np.int64)
        return image, mask, axes


def read_array(path: Path) -> np.ndarray:
    """Read a .npy, .tif/.tiff or any imageio-readable file."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix in (".tif", ".tiff"):
        import tifffile

        return tifffile.imread(path)
    import imageio.v3 as iio

    return np.asarray(iio.imread(path))


def _read_index(root: Path) -> dict[str, dict[str, Any]]:
    path = root / "index.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    if isinstance(data, dict):
        return {str(k): dict(v) for k, v in data.items()}
    return {str(e["index"]): dict(e) for e in data}


def _find(folder: Path, stem: str, suffixes: Sequence[str]) -> Path | None:
    for s in suffixes:
        for cand in (folder / f"{stem}{s}", folder / f"{stem}{s.upper()}"):
            if cand.is_file():
                return cand
    return None


@dataclass
class Dataset:
    """Images and masks of a folder, optionally restricted to some modalities."""

    root: Path
    samples: list[Sample]
    masks: str

    @property
    def name(self) -> str:
        return self.root.name

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self):
        return iter(self.samples)


def parse_modalities(spec: str | Sequence[str] | None) -> list[tuple[str, int | None]]:
    """``"fluorescence_gray:12,HE_histology_rgb:8"`` -> [(name, 12), (name, 8)]."""
    if spec is None:
        return []
    items = spec.split(",") if isinstance(spec, str) else [s for x in spec for s in x.split(",")]
    out = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        name, _, count = item.partition(":")
        out.append((name.strip(), int(count) if count else None))
    return out


def open_dataset(
    root: str | Path,
    modalities: str | Sequence[str] | None = None,
    limit: int | None = None,
    masks: str = "auto",
) -> Dataset:
    """List the samples of a dataset folder.

    Parameters
    ----------
    root : folder with ``images/`` and ``masks/`` (see module docstring).
    modalities : e.g. ``"fluorescence_gray:12,HE_histology_rgb:8"``: keep these
        modalities, at most N images each (first by name); None keeps all.
    limit : keep at most this many images in total (after the modality selection).
    masks : "auto", "semantic" or "instance".
    """
    root = Path(root)
    if masks not in MASK_MODES:
        raise ValueError(f"masks must be one of {MASK_MODES}, got {masks!r}")
    img_dir, mask_dir = root / "images", root / "masks"
    if not img_dir.is_dir() or not mask_dir.is_dir():
        raise FileNotFoundError(f"{root} must contain images/ and masks/ folders")
    index = _read_index(root)
    if masks == "auto":
        instance = any(k in e for e in index.values() for k in INSTANCE_KEYS)
        masks = "instance" if instance else "semantic"
    stems = sorted(
        {p.stem for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()}
    )
    samples = []
    for stem in stems:
        image_path = _find(img_dir, stem, IMAGE_SUFFIXES)
        mask_path = _find(mask_dir, stem, MASK_SUFFIXES)
        if image_path is None or mask_path is None:
            continue
        modality = str(index.get(stem, {}).get("modality", ""))
        samples.append(Sample(stem, image_path, mask_path, modality))
    wanted = parse_modalities(modalities)
    if wanted:
        known = {s.modality for s in samples}
        missing = [m for m, _ in wanted if m not in known]
        if missing:
            raise ValueError(
                f"modality {missing} not in {root} (available: {sorted(known - {''}) or 'none'})"
            )
        chosen: list[Sample] = []
        for modality, count in wanted:
            subset = [s for s in samples if s.modality == modality]
            chosen.extend(subset[:count] if count is not None else subset)
        samples = chosen
    if limit is not None:
        samples = samples[:limit]
    if not samples:
        raise ValueError(f"no image/mask pairs found in {root}")
    return Dataset(root, samples, masks)
