"""The progressive forest: a draft of few trees first, then exactly the full forest."""

import threading

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import convpaint
from convpaint import progressive


def _scene(size=64, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    disk = (yy - size // 2) ** 2 + (xx - size // 2) ** 2 < (size // 4) ** 2
    image = (np.where(disk, 0.8, 0.2) + rng.normal(0, 0.1, disk.shape)).astype(np.float32)
    ann = np.zeros(image.shape, np.uint8)
    ann[3:6, 4:60] = 1
    ann[30:34, 26:38] = 2
    return image, ann


def _model(**kw):
    kw.setdefault("n_estimators", 40)
    kw.setdefault("fit", "sklearn")
    return convpaint.ConvpaintModel("raw", scalings=(1, 2), workers=1, **kw)


def _trees(model):
    return [
        (e.tree_.feature.copy(), e.tree_.threshold.copy(), e.tree_.value.copy())
        for e in model.classifier.estimators_
    ]


def _same_forest(a, b):
    ta, tb = _trees(a), _trees(b)
    return len(ta) == len(tb) and all(
        all(np.array_equal(u, v) for u, v in zip(x, y, strict=True))
        for x, y in zip(ta, tb, strict=True)
    )


def test_full_result_equals_a_full_fit_bit_for_bit():
    image, ann = _scene()
    reference = _model().train(image, ann)
    model = _model()
    fit = progressive.ProgressiveFit(model, image, ann, n_trees=4, min_samples=0)
    assert fit.draft() is True
    assert fit.pending and len(model.classifier.estimators_) == 4
    assert progressive.is_draft(model.classifier)
    draft_labels = model.segment(image)
    assert draft_labels.shape == image.shape
    assert fit.full() is True and fit.state == "full"
    assert not progressive.is_draft(model.classifier)
    assert _same_forest(model, reference)
    assert model.fingerprint() == reference.fingerprint()
    assert model.training_ == reference.training_
    np.testing.assert_array_equal(model.predict_proba(image), reference.predict_proba(image))
    np.testing.assert_array_equal(model.segment(image), reference.segment(image))


def test_train_progressive_calls_back_with_the_draft():
    image, ann = _scene()
    reference = _model().train(image, ann)
    seen = []
    model = progressive.train_progressive(
        _model(),
        image,
        ann,
        n_trees=3,
        min_samples=0,
        on_draft=lambda m: seen.append(len(m.classifier)),
    )
    assert seen == [3]
    assert _same_forest(model, reference)


def test_train_after_a_draft_grows_the_full_forest():
    image, ann = _scene()
    model = _model()
    progressive.ProgressiveFit(model, image, ann, n_trees=4, min_samples=0).draft()
    model.train(image, ann)  # e.g. the Train button while a draft is shown
    assert len(model.classifier.estimators_) == 40
    assert _same_forest(model, _model().train(image, ann))
    # and a new progressive fit started from a draft still aims at the full forest
    fit = progressive.ProgressiveFit(model, image, ann, n_trees=4, min_samples=0)
    fit.draft()
    fit = progressive.ProgressiveFit(model, image, ann, n_trees=4, min_samples=0)
    assert fit.template.n_estimators == 40
    assert fit.draft() and fit.full()
    assert len(model.classifier.estimators_) == 40


def test_a_newer_training_makes_the_full_forest_stale():
    image, ann = _scene()
    more = ann.copy()
    more[50:53, 10:20] = 1
    model = _model()
    old = progressive.ProgressiveFit(model, image, ann, n_trees=4, min_samples=0)
    old.draft()
    new = progressive.ProgressiveFit(model, image, more, n_trees=4, min_samples=0)
    new.draft()  # a newer stroke's draft replaced the old one
    assert old.full() is False and old.state == "stale"
    assert model.training_["n_samples"] == int(np.count_nonzero(more))
    assert new.full() is True
    assert _same_forest(model, _model().train(image, more))


def test_cancelled_steps_leave_the_model_as_it_was():
    image, ann = _scene()
    model = _model()
    fit = progressive.ProgressiveFit(model, image, ann, n_trees=4, min_samples=0)
    fit.draft()
    draft = model.classifier
    stop = threading.Event()
    stop.set()
    with pytest.raises(convpaint.Cancelled):
        fit.full(cancel=stop)
    assert model.classifier is draft
    fresh = _model()
    with pytest.raises(convpaint.Cancelled):
        progressive.ProgressiveFit(fresh, image, ann, n_trees=4, min_samples=0).draft(cancel=stop)
    assert fresh.classes_ is None


def test_no_draft_below_min_samples():
    image, ann = _scene()
    model = _model()
    fit = progressive.ProgressiveFit(model, image, ann, n_trees=4, min_samples=10_000)
    assert fit.draft() is False and fit.state == "full"
    assert _same_forest(model, _model().train(image, ann))


def test_no_draft_without_more_trees_or_n_estimators():
    image, ann = _scene()
    small = _model(n_estimators=4)
    fit = progressive.ProgressiveFit(small, image, ann, n_trees=8)
    assert fit.draft() is False and fit.state == "full" and fit.full() is True
    assert _same_forest(small, _model(n_estimators=4).train(image, ann))
    logistic = convpaint.ConvpaintModel("raw", classifier=LogisticRegression(), workers=1)
    assert progressive.draft_classifier(logistic.classifier) is None
    assert progressive.ProgressiveFit(logistic, image, ann).draft() is False
    assert logistic.segment(image).shape == image.shape


def test_draft_classifier_keeps_the_other_parameters():
    full = ExtraTreesClassifier(n_estimators=50, max_depth=7, random_state=3)
    draft = progressive.draft_classifier(full, 8)
    assert isinstance(draft, ExtraTreesClassifier)
    assert (draft.n_estimators, draft.max_depth, draft.random_state) == (8, 7, 3)
    assert full.n_estimators == 50
    for bad in (0, -1, 2.5, True, "8"):
        with pytest.raises(ValueError, match="n_trees"):
            progressive.draft_classifier(full, bad)


def test_training_samples_are_what_train_fits():
    image, ann = _scene()
    model = _model()
    samples = model.training_samples(image, ann)
    assert samples.x.shape == (int(np.count_nonzero(ann)), 2)
    np.testing.assert_array_equal(samples.classes, [1, 2])
    assert model.classes_ is None  # collecting samples fits nothing
    clf = _model().classifier
    clf.fit(samples.x, samples.y)
    assert model.install_classifier(clf, samples)
    assert _same_forest(model, _model().train(image, ann))
    assert model.install_classifier(clf, samples, replaces=object()) is False


def test_draft_trees_bootstrap_at_most_max_samples():
    image, ann = _scene()
    n = int(np.count_nonzero(ann))
    reference = _model().train(image, ann)
    model = _model()
    fit = progressive.ProgressiveFit(model, image, ann, n_trees=4, min_samples=0, max_samples=50)
    assert fit.draft() is True
    assert model.classifier.max_samples == 50 < n  # the draft's trees: 50 samples each
    assert fit.full() is True and model.classifier.max_samples is None
    assert _same_forest(model, reference)  # the full forest: untouched by the cap
    uncapped = _model()
    fit = progressive.ProgressiveFit(uncapped, image, ann, n_trees=4, min_samples=0, max_samples=n)
    fit.draft()
    assert uncapped.classifier.max_samples is None  # n samples: nothing to cap
    own = _model(classifier=RandomForestClassifier(n_estimators=40, max_samples=20))
    fit = progressive.ProgressiveFit(own, image, ann, n_trees=4, min_samples=0, max_samples=50)
    fit.draft()
    assert own.classifier.max_samples == 20  # the forest's own smaller sample is kept


@pytest.mark.parametrize("bad", [0, -3, True])
def test_max_samples_must_be_positive(bad):
    image, ann = _scene()
    with pytest.raises(ValueError, match="max_samples"):
        progressive.ProgressiveFit(_model(), image, ann, max_samples=bad)
