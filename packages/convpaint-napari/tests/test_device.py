"""Device dropdown: availability without a GPU; a run setting."""

import pytest

import convpaint


def test_device_list_without_a_gpu(viewer, widget, monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    choices = widget.device_combo.refresh()
    by_name = {c.name: c for c in choices}
    assert by_name["auto"].available and by_name["cpu"].available
    assert not by_name["cuda"].available and "CUDA" in by_name["cuda"].reason
    item = widget.device_combo.model().item(2)
    assert not item.isEnabled() and "unavailable" in item.text()
    assert widget.device_combo.device() == "auto"
    assert widget.settings().device is None  # ilastik takes no device
    if "vgg16" in convpaint.list_extractors():
        widget.form.extractor.setCurrentText("vgg16")
        widget.device_combo.set_device("cpu")
        assert widget.settings().device == "cpu"
        assert "device" not in widget.form.settings().options  # a run setting, not the model's
