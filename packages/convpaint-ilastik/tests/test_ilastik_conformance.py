"""ilastik passes the extractor conformance kit (convpaint.testing) with every backend here."""

import pytest

from convpaint.testing import check_extractor, extractor_checks
from convpaint_ilastik import fast, opencv

BACKENDS = ["scipy"] + ["opencv"] * opencv.available() + ["fastfilters"] * fast.available()
SMALL = {"sigmas": [0.7, 1.6]}  # a few fine scales: the 3-D model stays fast


def _run(check):
    skipped = check.run()
    if skipped:
        pytest.skip(skipped)


@pytest.mark.parametrize("check", extractor_checks("ilastik", quick=True), ids=str)
def test_default_ilastik_conforms(check):
    _run(check)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ilastik_conforms_with_each_backend(backend):
    check_extractor("ilastik", {**SMALL, "backend": backend})


@pytest.mark.slow
def test_default_ilastik_conforms_fully():
    check_extractor("ilastik")  # sigma 10 in 3-D: about 30 s
