"""Helpers shared by the cross-package tests."""

import pytest

import convpaint


def require(name: str) -> None:
    """Skip when extractor ``name`` is not installed."""
    if name not in convpaint.list_extractors():
        pytest.skip(f"extractor {name!r} is not installed")
