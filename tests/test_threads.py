"""One model used from several threads: training is serialised, readers see a whole model."""

import threading

import numpy as np
import pytest

import convpaint


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    image = rng.random((64, 80)).astype(np.float32)
    image[:, 40:] += 1.0
    a = np.zeros(image.shape, np.uint8)
    a[5:15, 5:30] = 1
    a[40:50, 50:75] = 2
    b = np.where(a == 1, 2, np.where(a == 2, 1, 0)).astype(np.uint8)  # labels swapped
    c = a.copy()
    c[20:25, 10:70] = 3  # a third class
    return image, a, b, c


def _run(*targets):
    errors = []

    def wrap(fn):
        def run():
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - collected and re-raised below
                errors.append(exc)

        return run

    threads = [threading.Thread(target=wrap(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def test_two_threads_training_one_model_is_serialised(data):
    image, a, _, c = data
    model = convpaint.ConvpaintModel("raw", n_estimators=7, workers=1)
    _run(lambda: model.train(image, a), lambda: model.train(image, c))
    assert len(model.classifier.estimators_) == 7
    assert model.classes_.tolist() in ([1, 2], [1, 2, 3])
    assert np.array_equal(model.classes_, model.classifier.classes_)
    ref = convpaint.ConvpaintModel("raw", n_estimators=7, workers=1)
    ref.train(image, a if len(model.classes_) == 2 else c)
    assert np.array_equal(model.segment(image), ref.segment(image))


def test_segment_and_save_while_training_see_a_whole_model(data, tmp_path):
    image, a, b, c = data
    model = convpaint.ConvpaintModel("raw", n_estimators=5, workers=1).train(image, a)
    first = model.segment(image)
    second = convpaint.ConvpaintModel("raw", n_estimators=5, workers=1).train(image, c)
    expected = (first, second.segment(image))
    results, saved = [], []

    def read():
        for i in range(6):
            results.append(model.segment(image))
            saved.append(model.save(tmp_path / f"m{i}.npz"))

    _run(read, lambda: model.train(image, c), lambda: model.train(image, c))
    for labels in results:
        assert any(np.array_equal(labels, e) for e in expected)
    for path in saved:
        loaded = convpaint.load_model(path)
        assert any(np.array_equal(loaded.segment(image), e) for e in expected)


def test_training_does_not_touch_the_classifier_being_predicted_with(data):
    image, a, b, _ = data
    model = convpaint.ConvpaintModel("raw", n_estimators=5, workers=1).train(image, a)
    before = model.classifier
    model.train(image, b)
    assert model.classifier is not before  # a fitted copy replaces it as a whole
    assert before.classes_.tolist() == [1, 2] and hasattr(before, "estimators_")
