"""Opening large inputs lazily (zarr, OME-Zarr, TIFF) and OME-Zarr multiscales metadata.

Storage is zarr's (``pip install "convpaint-core[zarr]"``); the OME-NGFF
``multiscales`` metadata is a small dict, read in versions 0.4 (zarr v2 stores)
and 0.5 (zarr v3, under ``attrs["ome"]``) and written as 0.5 -- readable by
ome-zarr-py, napari-ome-zarr and Fiji's n5-viewer (the tests check ome-zarr-py).
TIFFs are read through tifffile's zarr view: tiles or strips on demand.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NGFF_VERSION = "0.5"
TIFF_AXES = {"T": "T", "Z": "Z", "C": "C", "S": "C", "Y": "Y", "X": "X"}
AXIS_TYPES = {"t": "time", "c": "channel", "z": "space", "y": "space", "x": "space"}


def _zarr():
    try:
        import zarr
    except ImportError:
        raise ImportError(
            'reading and writing zarr needs the zarr package: pip install "convpaint-core[zarr]"'
        ) from None
    return zarr


@dataclass
class LazyImage:
    """A lazily read array with the axes and pixel sizes its file declares (None: unknown)."""

    array: Any
    axes: str | None
    scale: dict[str, float] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)


def is_zarr_path(path: str | os.PathLike) -> bool:
    p = Path(path)
    return (
        p.suffix.lower() == ".zarr"
        or p.name.lower().endswith(".ome.zarr")
        or (p.is_dir() and any((p / name).exists() for name in ("zarr.json", ".zgroup", ".zarray")))
    )


def multiscales(attrs: Any) -> list[dict] | None:
    """The ``multiscales`` list of a group's attributes (NGFF 0.5 or 0.4), else None."""
    attrs = dict(attrs)
    found = attrs.get("ome", {}).get("multiscales") if "ome" in attrs else None
    return found or attrs.get("multiscales")


def open_zarr(path: str | os.PathLike, level: int = 0) -> LazyImage:
    """A zarr array, or level ``level`` of an OME-Zarr image (axes and scale from its
    multiscales metadata)."""
    zarr = _zarr()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such zarr store: {path}")
    try:
        node = zarr.open(str(path), mode="r")
    except Exception as exc:
        raise ValueError(f"{path}: cannot open as zarr ({type(exc).__name__}: {exc})") from None
    if isinstance(node, zarr.Array):
        return LazyImage(node, None)
    ms = multiscales(node.attrs)
    if not ms:
        arrays = sorted(name for name, _ in node.arrays())
        raise ValueError(
            f"{path}: a zarr group without OME-Zarr multiscales metadata; open one of its "
            f"arrays instead ({', '.join(arrays) or 'it has none'})"
        )
    meta = ms[0]
    datasets = meta["datasets"]
    if not 0 <= level < len(datasets):
        raise ValueError(f"{path}: --level {level} does not exist (levels 0..{len(datasets) - 1})")
    axes_meta = meta.get("axes") or [
        {"name": a} for a in "tczyx"[-node[datasets[0]["path"]].ndim :]
    ]
    names = [(a["name"] if isinstance(a, dict) else a).upper() for a in axes_meta]
    units = {
        n: a["unit"]
        for n, a in zip(names, axes_meta, strict=True)
        if isinstance(a, dict) and "unit" in a
    }
    scale = {}
    for tr in datasets[level].get("coordinateTransformations", []):
        if tr.get("type") == "scale":
            scale = dict(zip(names, (float(s) for s in tr["scale"]), strict=True))
    axes = "".join(names)
    if set(axes) - set("TCZYX"):
        axes = None  # unknown axis names: the user says with axes=
    return LazyImage(node[datasets[level]["path"]], axes, scale, units)


def open_tiff(path: str | os.PathLike, level: int = 0) -> LazyImage:
    """A TIFF as a zarr array (tifffile's zarr view: pages/tiles read on demand)."""
    import tifffile

    zarr = _zarr()
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        if not 0 <= level < len(series.levels):
            raise ValueError(
                f"{path}: --level {level} does not exist (levels 0..{len(series.levels) - 1})"
            )
        letters = series.axes
    axes = "".join(TIFF_AXES.get(a, "?") for a in letters)
    store = tifffile.imread(path, aszarr=True, level=level)
    return LazyImage(zarr.open(store, mode="r"), None if "?" in axes else axes)


def write_multiscales(
    group: Any,
    axes: str,
    scale: dict[str, float] | None = None,
    units: dict[str, str] | None = None,
    name: str = "",
    path: str = "0",
) -> None:
    """Declare ``group[path]`` the one level of an OME-Zarr (NGFF 0.5) image with ``axes``."""
    scale, units = scale or {}, units or {}
    axes_meta = []
    for a in axes:
        entry = {"name": a.lower(), "type": AXIS_TYPES[a.lower()]}
        if a in units:
            entry["unit"] = units[a]
        axes_meta.append(entry)
    ms = {
        "name": name,
        "axes": axes_meta,
        "datasets": [
            {
                "path": path,
                "coordinateTransformations": [
                    {"type": "scale", "scale": [float(scale.get(a, 1.0)) for a in axes]}
                ],
            }
        ],
    }
    ome = dict(group.attrs.get("ome", {}))
    ome.update({"version": NGFF_VERSION, "multiscales": [ms]})
    group.attrs["ome"] = ome


def write_label_metadata(group: Any, names: dict[int, str], colors: dict[int, str]) -> None:
    """NGFF ``image-label`` metadata of a labels image: a colour and a class name per value
    (napari-ome-zarr and other viewers colour labels by it)."""
    from .class_names import rgba

    ome = dict(group.attrs.get("ome", {}))
    ome["image-label"] = {
        "version": NGFF_VERSION,
        "colors": [{"label-value": v, "rgba": rgba(colors[v])} for v in sorted(colors)],
        "properties": [{"label-value": v, "class": names[v]} for v in sorted(names)],
    }
    group.attrs["ome"] = ome
