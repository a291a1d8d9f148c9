"""efficientnet and convnext pass the extractor conformance kit (convpaint.testing),
with random weights."""

import pytest

from convpaint.testing import check_extractor, extractor_checks

pytestmark = pytest.mark.filterwarnings("ignore:.*random weights:UserWarning")
RANDOM = {"weights": "random"}
CHECKS = [
    c for name in ("efficientnet", "convnext") for c in extractor_checks(name, RANDOM, quick=True)
]


@pytest.mark.parametrize("check", CHECKS, ids=[f"{c.extractor}-{c}" for c in CHECKS])
def test_timm_extractors_conform(check):
    skipped = check.run()
    if skipped:
        pytest.skip(skipped)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["efficientnet", "convnext"])
def test_timm_extractors_conform_fully(name):
    check_extractor(name, RANDOM)
