"""The model form's extractor fields are generated from the extractor's options schema."""

import pytest
from helpers import disk_image
from helpers import scribbles as scribbles_for
from qtpy.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

import convpaint
from convpaint.options import Option
from convpaint_napari.option_form import DEFAULT_TEXT, ExtractorOptions, OptionField
from convpaint_napari.options import ModelSettings, OptionsForm

pytest.importorskip("convpaint_testplugin")


@pytest.fixture
def form(qtbot):
    f = OptionsForm()
    qtbot.addWidget(f)
    return f


def fields(form):
    return {name: f for (_, name), f in form.extractor_options.fields.items()}


def test_third_party_extractor_gets_real_fields(form, qtbot):
    form.extractor.setCurrentText("sobel")
    got = fields(form)
    assert list(got) == ["sigma", "gradients", "mode"]
    sigma, gradients, mode = got["sigma"].widget, got["gradients"].widget, got["mode"].widget
    assert isinstance(sigma, QSpinBox) and (sigma.minimum(), sigma.maximum()) == (1, 4)
    assert isinstance(gradients, QCheckBox) and gradients.isChecked()
    assert isinstance(mode, QComboBox) and [mode.itemText(i) for i in range(2)] == [
        "reflect",
        "nearest",
    ]
    assert "Gaussian sigma" in sigma.toolTip() and "1..4" in sigma.toolTip()
    assert form.options.isHidden()  # no free-text field: everything has a field
    assert form.settings().options == {}  # defaults are not spelled out

    with qtbot.waitSignal(form.changed):
        sigma.setValue(3)
    gradients.setChecked(False)
    mode.setCurrentText("nearest")
    s = form.settings()
    assert s.options == {"sigma": 3, "gradients": False, "mode": "nearest"}
    ex = s.build().extractor
    assert ex.get_options() == {"sigma": 3, "gradients": False, "mode": "nearest"}

    form.set_settings(ModelSettings("sobel", {"sigma": 4}))  # the others back to defaults
    assert (sigma.value(), gradients.isChecked(), mode.currentText()) == (4, True, "reflect")


def test_settings_of_a_trained_model_round_trip(form):
    image, scribbles = disk_image(), scribbles_for()
    model = convpaint.ConvpaintModel("sobel", sigma=1, mode="nearest", n_estimators=5)
    model.train(image, scribbles)
    form.set_settings(ModelSettings.from_model(model))
    assert fields(form)["sigma"].widget.value() == 1
    again = form.settings().build()
    assert again.extractor.get_options() == model.extractor.get_options()


def test_list_fields_are_checked_by_the_schema(form):
    pytest.importorskip("convpaint_ilastik")
    form.extractor.setCurrentText("ilastik")
    got = fields(form)
    assert isinstance(got["sigmas"].widget, QLineEdit) and isinstance(
        got["backend"].widget, QComboBox
    )
    assert got["sigmas"].widget.placeholderText().startswith("0.3, 0.7")
    got["sigmas"].widget.setText("1, 2.5")
    assert form.settings().options == {"sigmas": [1.0, 2.5]}
    got["sigmas"].widget.setText("1, 200")
    with pytest.raises(ValueError, match=r"option 'sigmas' of extractor 'ilastik': 200.*64"):
        form.settings()
    got["sigmas"].widget.setText("")
    form.options.setText("backend=nope")  # the free field is checked by the schema too
    with pytest.raises(ValueError, match="option 'backend'.*'nope'.*one of auto"):
        form.settings()


def test_paths_and_run_settings(form):
    if "vgg16" not in convpaint.list_extractors():
        pytest.skip("convpaint-vgg is not installed")
    form.extractor.setCurrentText("vgg16")
    got = fields(form)
    assert list(got) == ["layers", "weights"]  # device and download are run settings
    weights = got["weights"]
    assert weights.edit is not None and weights.widget is not weights.edit  # edit + browse
    weights.edit.setText("random")
    got["layers"].widget.setText("0, 2")
    assert form.settings().options == {"layers": [0, 2], "weights": "random"}
    got["layers"].widget.setText("0, 3")
    with pytest.raises(ValueError, match="option 'layers' of extractor 'vgg16': 3"):
        form.settings()


def test_combination_fields_are_labelled_by_part(form):
    form.set_settings(ModelSettings("sobel+raw", {"sobel": {"sigma": 3, "mode": "reflect"}}))
    keys = list(form.extractor_options.fields)
    assert keys == [("sobel", "sigma"), ("sobel", "gradients"), ("sobel", "mode")]
    label = form.extractor_options._form.labelForField(keys and fields(form)["sigma"].widget)
    assert label.text() == "Sobel: sigma"
    s = form.settings()
    assert s.options == {"sobel": {"sigma": 3}}
    assert s.build().extractor.get_options()["sobel"]["sigma"] == 3


def test_extractor_without_schema_keeps_the_free_field(form):
    form.set_settings(ModelSettings("not-installed-extractor", {"alpha": 2, "name": "x"}))
    assert form.extractor_options.needs_free_text and not form.options.isHidden()
    assert form.extractor_options.fields == {}
    assert form.settings().options == {"alpha": 2, "name": "x"}
    form.extractor.setCurrentText("sobel")
    form.options.setText("")
    assert form.options.isHidden()


def test_field_kinds_follow_the_types(qtbot):
    parent = ExtractorOptions()
    qtbot.addWidget(parent)

    def make(opt):
        return OptionField(opt, "extractor 'x'", lambda: None, parent)

    spin = make(Option("f", "float", 0.5, "x", minimum=0.0, maximum=1.0))
    assert isinstance(spin.widget, QDoubleSpinBox) and spin.value() == 0.5
    open_int = make(Option("n", "int", 3, "x", minimum=1))  # one bound only: a line edit
    assert open_int.edit is not None and open_int.value() == 3
    open_int.edit.setText("0")
    with pytest.raises(ValueError, match="option 'n' of extractor 'x': 0 is outside 1.."):
        open_int.value()
    optional = make(Option("m", "str", None, "x", choices=("a", "b")))
    assert optional.widget.currentText() == DEFAULT_TEXT and optional.value() is None
    optional.set_value("b")
    assert optional.value() == "b"
