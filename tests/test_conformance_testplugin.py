"""The third-party test plugin (tests/plugins/convpaint-testplugin) passes the extractor
conformance kit, as the README asks of third-party extractors."""

import pytest

from convpaint.testing import check_extractor, extractor_checks


@pytest.mark.parametrize("check", extractor_checks("sobel"), ids=str)
def test_sobel_conforms(check):
    skipped = check.run()
    if skipped:
        pytest.skip(skipped)


def test_sobel_class_conforms_by_class_too():
    from convpaint_testplugin import SobelExtractor

    check_extractor(SobelExtractor, quick=True)
