"""A third-party package (tests/plugins/convpaint-testplugin) found through its entry point."""

import importlib.metadata as md

import numpy as np

import convpaint


def test_plugin_is_discovered_through_its_entry_point():
    eps = [ep for ep in md.entry_points(group="convpaint.extractors") if ep.name == "sobel"]
    assert eps and eps[0].dist.name == "convpaint-testplugin"
    assert "sobel" in convpaint.list_extractors()
    ex = convpaint.get_extractor("sobel")
    assert type(ex).__module__ == "convpaint_testplugin"


def test_plugin_trains_and_segments(blobs):
    image, truth, scribbles = blobs
    model = convpaint.ConvpaintModel("sobel").train(image, scribbles)
    assert np.mean(model.segment(image) == truth) > 0.9


def test_plugin_combines_with_builtin(blobs):
    image, _, scribbles = blobs
    model = convpaint.ConvpaintModel("sobel+raw").train(image, scribbles)
    assert model.compute_features(image).shape == (3 + 1, *image.shape)
