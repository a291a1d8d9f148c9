"""The model form's upsampler dropdown: bilinear plus every installed upsampler, enabled for
extractors with patch features (read from the class, nothing built), its options, and the
settings round trip through a model with an upsampler."""

import numpy as np
import pytest
from helpers import disk_image
from helpers import scribbles as scribbles_for
from qtpy.QtCore import Qt

import convpaint
from convpaint import upsampler_registry
from convpaint.testing import NearestPatches, PatchStats, registered
from convpaint_napari.options import BILINEAR, ModelSettings, OptionsForm


@pytest.fixture
def form(qtbot):
    f = OptionsForm()
    qtbot.addWidget(f)
    return f


@pytest.fixture
def patch_form(qtbot):
    """A form made after ``patch4`` and ``nearest-test`` were registered (forgotten after)."""
    with registered(extractors=[PatchStats], upsamplers=[NearestPatches]):
        f = OptionsForm()
        qtbot.addWidget(f)
        yield f


def items(form):
    combo = form.upsampler
    return {
        combo.itemText(i): combo.itemData(i, Qt.ItemDataRole.ToolTipRole)
        for i in range(combo.count())
    }


def test_the_dropdown_lists_every_installed_upsampler(form):
    got = items(form)
    assert list(got)[0] == BILINEAR and "guided" in got
    assert set(got) == {BILINEAR, *convpaint.list_upsamplers()}
    spec = upsampler_registry.get_upsampler_registry().spec("guided")
    assert got["guided"] == spec.description  # each entry's tooltip is its description
    assert form.settings().upsampler is None and form.settings().upsampler_options == {}


def test_enabled_for_patch_extractors_only_without_building(form, monkeypatch):
    assert form.extractor.currentText() == "ilastik"
    assert not form.upsampler.isEnabled()
    assert "patch_size 1" in form.upsampler.toolTip()
    dinov2 = pytest.importorskip("convpaint_dinov2")

    def no_build(self, *args, **kwargs):
        raise AssertionError("the form built the extractor")

    monkeypatch.setattr(dinov2.DinoV2, "__init__", no_build)
    form.extractor.setCurrentText("dinov2")
    assert form.upsampler.isEnabled()
    form.upsampler.setCurrentText("guided")
    assert "guided filter" in form.upsampler.toolTip()
    s = form.settings()
    assert (s.extractor, s.upsampler) == ("dinov2", "guided")

    form.extractor.setCurrentText("ilastik")  # back to per-pixel features: bilinear
    assert not form.upsampler.isEnabled() and form.upsampler.currentText() == BILINEAR
    assert form.settings().upsampler is None
    form.set_settings(ModelSettings("ilastik+dinov2", upsampler="guided"))  # a part has patches
    assert form.upsampler.isEnabled() and form.settings().upsampler == "guided"


def test_settings_round_trip_through_a_model_with_an_upsampler(patch_form):
    image, scribbles = disk_image(), scribbles_for()
    model = convpaint.ConvpaintModel(
        "patch4", upsampler="guided", upsampler_options={"radius": 2}, n_estimators=5
    )
    model.train(image, scribbles)
    settings = ModelSettings.from_model(model)
    assert settings.upsampler == "guided" and settings.upsampler_options["radius"] == 2

    patch_form.set_settings(settings)
    assert patch_form.upsampler.isEnabled() and patch_form.upsampler.currentText() == "guided"
    back = patch_form.settings()
    assert back == settings  # every field of guided's schema, as loaded
    rebuilt = back.build()
    assert rebuilt.upsampler.get_options() == model.upsampler.get_options()
    rebuilt.train(image, scribbles)
    np.testing.assert_array_equal(rebuilt.segment(image), model.segment(image))

    patch_form.upsampler.setCurrentText(BILINEAR)  # a new choice drops the loaded options
    assert patch_form.settings().upsampler is None
    patch_form.upsampler.setCurrentText("guided")
    assert patch_form.settings().upsampler_options == {"radius": 1, "eps": 0.01, "guide": "mean"}
    assert patch_form.settings().build().upsampler.radius == 1


def test_an_upsampler_schema_gets_fields(patch_form, qtbot):
    patch_form.extractor.setCurrentText("patch4")
    assert patch_form.upsampler_options.isHidden()  # bilinear: no fields
    patch_form.upsampler.setCurrentText("nearest-test")
    field = patch_form.upsampler_options.fields["gain"]
    assert not patch_form.upsampler_options.isHidden()
    assert "feature multiplier" in field.widget.toolTip()
    assert patch_form.settings().upsampler_options == {"gain": 1}  # the field's default
    with qtbot.waitSignal(patch_form.changed):
        field.widget.setValue(3)
    s = patch_form.settings()
    assert (s.upsampler, s.upsampler_options) == ("nearest-test", {"gain": 3})
    model = s.build()
    assert model.upsampler.gain == 3

    patch_form.set_settings(ModelSettings.from_model(model))
    assert patch_form.upsampler_options.fields["gain"].widget.value() == 3
    patch_form.set_settings(ModelSettings("patch4", upsampler="nearest-test"))
    assert patch_form.upsampler_options.fields["gain"].widget.value() == 1
