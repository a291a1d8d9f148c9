import numpy as np
import pytest
from helpers import disk_image, scribbles

import convpaint
from convpaint_napari.suggestions import (
    SUGGESTIONS,
    _camera,
    jump_to,
    rectangle,
    show_suggestions,
)


def _trained(image, ann, axes):
    return convpaint.ConvpaintModel("ilastik", n_estimators=10).train(image, ann, axes=axes)


def _inside(box, mask):
    return mask[tuple(box)]


def test_boxes_outside_annotated_pixels(viewer):
    image = disk_image((96, 96))
    ann = scribbles((96, 96))
    ann[40:80, 10:50] = 1  # a large annotated block: suggestions avoid it
    model = _trained(image, ann, "YX")
    img_layer = viewer.add_image(image, name="img", scale=(2.0, 2.0))
    ann_layer = viewer.add_labels(ann, name="annotations", scale=(2.0, 2.0))
    viewer.layers.selection.active = ann_layer

    layer = show_suggestions(viewer, model, img_layer, ann_layer, n=3, axes="YX")

    assert layer.name == SUGGESTIONS and viewer.layers[SUGGESTIONS] is layer
    found = layer.metadata["suggestions"]
    expected = model.suggest(image, 3, annotations=ann, axes="YX")
    assert [s.box for s in found] == [s.box for s in expected]
    assert 1 <= len(found) == len(layer.data) <= 3
    assert list(layer.shape_type) == ["rectangle"] * len(found)
    assert list(layer.scale) == [2.0, 2.0]
    scores = list(layer.features["score"])
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    for s, corners in zip(found, layer.data, strict=True):
        assert _inside(s.box, ann).mean() < 0.5  # mostly unannotated pixels
        ys, xs = s.box
        assert corners[:, 0].min() == ys.start - 0.5 and corners[:, 1].max() == xs.stop - 0.5
    assert viewer.layers.selection.active is ann_layer  # painting continues

    # annotate everything the first box covered: it is not suggested again
    ann2 = ann.copy()
    ann2[found[0].box] = 2
    ann_layer.data = ann2
    again = show_suggestions(viewer, model, img_layer, ann_layer, n=3, axes="YX")
    assert again is layer  # updated, not a second layer
    assert found[0].box not in [s.box for s in again.metadata["suggestions"]]
    for s in again.metadata["suggestions"]:
        assert _inside(s.box, ann2).mean() < 1.0


def test_stack_and_jump_to_plane(viewer):
    stack = disk_image((4, 64, 64))
    ann = np.zeros(stack.shape, np.uint8)
    ann[1] = scribbles((64, 64))
    model = _trained(stack, ann, "ZYX")
    img_layer = viewer.add_image(stack, name="stack")
    layer = show_suggestions(viewer, model, img_layer, None, n=2, axes="ZYX")
    found = layer.metadata["suggestions"]
    assert layer.ndim == 3 and len(found) == 2
    z = found[0].box[0]
    assert isinstance(z, int)
    assert np.all(layer.data[0][:, 0] == z)  # the rectangle lies in its plane

    jump_to(viewer, found[0])
    assert viewer.dims.current_step[0] == z
    np.testing.assert_allclose(_camera(viewer).center[-2:], found[0].center[-2:])


def test_refuses_untrained_model_and_wrong_annotations(viewer):
    img_layer = viewer.add_image(disk_image((32, 32)), name="img")
    with pytest.raises(ValueError, match="no trained model"):
        show_suggestions(viewer, convpaint.ConvpaintModel("ilastik"), img_layer)
    model = _trained(disk_image((32, 32)), scribbles((32, 32)), "YX")
    wrong = viewer.add_labels(np.zeros((16, 16), np.uint8), name="small")
    with pytest.raises(ValueError, match="shape"):
        show_suggestions(viewer, model, img_layer, wrong)


def test_rectangle_refuses_a_box_without_two_slices():
    with pytest.raises(ValueError, match="two slice axes"):
        rectangle((1, slice(0, 4)))
