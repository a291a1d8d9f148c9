"""Helpers shared by the convpaint-dinov2 tests."""

import os
import warnings

REVISION = "0123456789abcdef0123456789abcdef01234567"


def write_hub_file(hf_home, repo_id, filename, writer):
    """Put a file into a Hugging Face cache laid out as ``hf_hub_download`` does."""
    repo = hf_home / "hub" / ("models--" + repo_id.replace("/", "--"))
    blob = repo / "blobs" / ("0" * 64)
    blob.parent.mkdir(parents=True)
    writer(blob)
    snapshot = repo / "snapshots" / REVISION / filename
    snapshot.parent.mkdir(parents=True)
    os.symlink(os.path.relpath(blob, snapshot.parent), snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)
    return snapshot


def random_extractor(cls, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return cls(weights="random", **options)
