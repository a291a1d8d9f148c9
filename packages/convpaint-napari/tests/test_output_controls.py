"""Outputs tab: instances, uncertainty, probabilities; progress stages."""

import numpy as np
from helpers import disk_image, scribbles

import convpaint
from convpaint.demo import demo_scribbles
from convpaint_napari.layers import ANNOTATIONS, INSTANCES, SEGMENTATION


def test_instances_on_coins_match_the_core(viewer, widget, wait):
    viewer.open_sample("convpaint-napari", "coins")
    widget.form.n_estimators.setValue(20)
    widget.outputs.instances_check.setChecked(True)
    widget.outputs.min_size.setValue(30)
    widget.train_button.click()
    wait(widget)
    assert widget.last_outcome.status == "done", widget.last_outcome.message
    from skimage import data

    image = data.coins()
    model = convpaint.ConvpaintModel("ilastik", n_estimators=20).train(image, demo_scribbles())
    labels = model.predict_proba(image).argmax(0) + 1
    np.testing.assert_array_equal(viewer.layers[SEGMENTATION].data, labels)
    expected = convpaint.to_instances(labels, min_size=30, split_touching=True)
    instances = viewer.layers[INSTANCES].data
    np.testing.assert_array_equal(instances, expected)
    n = int(expected.max())
    assert 20 <= n <= 40  # 24 coins in scikit-image's picture, a few split or merged
    assert f"{n} instances" in widget.status.text()
    assert set(viewer.layers[INSTANCES].features["class"][1:]) == {"class 2"}


def test_uncertainty_layer_and_training_stages(viewer, widget, wait):
    viewer.add_image(disk_image(), name="img")
    viewer.add_labels(scribbles(), name=ANNOTATIONS)
    widget.outputs.uncertainty_check.setChecked(True)
    stages = []
    widget.runner.stage.connect(stages.append)
    widget.train_button.click()
    wait(widget)
    assert widget.last_outcome.status == "done", widget.last_outcome.message
    assert stages[:2] == ["featurising the scribbled tiles", "fitting the random forest"]
    unc = viewer.layers["uncertainty"].data
    proba = viewer.layers["probabilities"].data
    assert viewer.layers["probabilities"].visible
    np.testing.assert_allclose(unc, convpaint.uncertainty(proba), atol=1e-6)
    assert unc.min() >= 0 and unc.max() <= 1
