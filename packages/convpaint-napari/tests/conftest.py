"""Headless napari for the plugin tests: Qt's offscreen platform (no display needed).

The offscreen platform has no OpenGL context, so napari's two GL capability queries
(texture limits, float-texture support) would crash on ``None`` strings (vispy#2736);
they are answered with defaults here.  Nothing is rendered in these tests; the
screenshot script (docs/scripts/napari_screenshot.py) renders for real under Xvfb.
"""

import importlib
import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any QApplication exists

_GL_MODULES = (
    "napari._vispy.utils.gl",
    "napari._vispy.layers.image",
    "napari._vispy.layers.base",
    "napari._vispy.layers.labels",
    "napari._vispy.canvas",
)


@pytest.fixture(autouse=True)
def _offscreen_gl_defaults(monkeypatch):
    if os.environ.get("QT_QPA_PLATFORM") != "offscreen":
        return
    for name in _GL_MODULES:
        module = importlib.import_module(name)
        if hasattr(module, "get_gl_extensions"):
            monkeypatch.setattr(module, "get_gl_extensions", lambda: "")
        if hasattr(module, "get_max_texture_sizes"):
            monkeypatch.setattr(module, "get_max_texture_sizes", lambda: (4096, 256))


@pytest.fixture
def viewer(make_napari_viewer):
    return make_napari_viewer()


@pytest.fixture
def widget(viewer):
    """The plugin's dock widget, added through its npe2 manifest."""
    _, w = viewer.window.add_plugin_dock_widget("convpaint-napari", "Convpaint")
    return w


@pytest.fixture
def wait(qtbot):
    """``wait(widget)``: process Qt events until the widget's job (if any) has finished."""

    def _wait(w, timeout=60_000):
        qtbot.waitUntil(lambda: not w.runner.busy and not w.live_timer.isActive(), timeout=timeout)

    return _wait
