"""vgg16 passes the extractor conformance kit (convpaint.testing), with random weights."""

import pytest

from convpaint.testing import check_extractor, extractor_checks

pytestmark = pytest.mark.filterwarnings("ignore:.*random weights:UserWarning")
RANDOM = {"weights": "random"}


@pytest.mark.parametrize("check", extractor_checks("vgg16", RANDOM, quick=True), ids=str)
def test_vgg16_conforms(check):
    skipped = check.run()
    if skipped:
        pytest.skip(skipped)


@pytest.mark.slow
@pytest.mark.parametrize("layers", [[0], [0, 2, 5]], ids=str)
def test_vgg16_conforms_fully(layers):
    check_extractor("vgg16", {**RANDOM, "layers": layers})
