"""dinov2, dinov3 and uni pass the extractor conformance kit (convpaint.testing), with random
weights. ViT-S runs by default (quick); the full kit and uni (ViT-L) are slow."""

import pytest

from convpaint.testing import check_extractor, extractor_checks

pytestmark = pytest.mark.filterwarnings("ignore:.*random weights:UserWarning")
RANDOM = {"weights": "random"}
QUICK = [c for name in ("dinov2", "dinov3") for c in extractor_checks(name, RANDOM, quick=True)]


@pytest.mark.parametrize("check", QUICK, ids=[f"{c.extractor}-{c}" for c in QUICK])
def test_vit_s_extractors_conform(check):
    skipped = check.run()
    if skipped:
        pytest.skip(skipped)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dinov2", "dinov3", "uni"])
def test_vit_extractors_conform_fully(name):
    check_extractor(name, RANDOM)
