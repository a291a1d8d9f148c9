"""The progressive forest: a small forest while painting, the full one when the user pauses.

Retraining after a stroke costs a forest fit, and segmenting the view costs a walk of
every tree, both in proportion to the number of trees.  :class:`ProgressiveFit` splits
one training in two steps on the *same* samples (collected once,
:meth:`ConvpaintModel.training_samples`):

* :meth:`ProgressiveFit.draft` fits a *draft*: the model's forest with only
  ``n_trees`` trees (:data:`DRAFT_TREES`), each grown on a bootstrap sample of at most
  ``max_samples`` scribbled pixels (:data:`DRAFT_MAX_SAMPLES`), installed at once so that
  the view can be segmented with it;
* :meth:`ProgressiveFit.full` fits the model's own forest (its ``n_estimators``) and
  installs it in place of the draft -- unless another training replaced the draft
  meanwhile (a newer stroke): a stale full forest is never installed.

The full forest is exactly what ``model.train`` on the same scribbles grows (same
samples, same parameters and seed: the same trees, tested bit for bit).  While a draft
is installed, ``model.train`` still grows the full forest (:func:`full_classifier`);
a model *saved* meanwhile holds the draft's trees.  Classifiers without
``n_estimators`` (or with no more than ``n_trees``) have no draft: ``draft`` fits
the full classifier.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DRAFT_TREES = 16  # measured: docs/interactive.md "Progressive forest"
DRAFT_MIN_SAMPLES = 1000  # fewer samples: shallow trees, the full forest is cheap enough
DRAFT_MAX_SAMPLES = 4096  # each draft tree's bootstrap sample, at most (measured: ditto)
FULL = "convpaint_full_"  # attribute of a fitted draft: the unfitted full classifier


def full_classifier(classifier: Any) -> Any:
    """The classifier a full fit grows: ``classifier``, or for a fitted draft the full
    (unfitted) classifier it stands in for."""
    full = getattr(classifier, FULL, None)
    return classifier if full is None else full


def is_draft(classifier: Any) -> bool:
    """Whether ``classifier`` is a fitted draft (:meth:`ProgressiveFit.draft`)."""
    return getattr(classifier, FULL, None) is not None


def draft_classifier(classifier: Any, n_trees: int = DRAFT_TREES) -> Any | None:
    """An unfitted copy of ``classifier``'s full classifier with ``n_trees`` trees (its other
    parameters and seed kept); None when it has no ``n_estimators`` or no more trees."""
    from .classifier import fresh_copy

    if isinstance(n_trees, bool) or not isinstance(n_trees, int) or n_trees < 1:
        raise ValueError(f"n_trees must be a positive integer, got {n_trees!r}")
    full = full_classifier(classifier)
    get_params = getattr(full, "get_params", None)
    params = get_params(deep=False) if callable(get_params) else {}
    n = params.get("n_estimators")
    if isinstance(n, bool) or not isinstance(n, int) or n <= n_trees:
        return None
    return fresh_copy(full).set_params(n_estimators=n_trees)


class ProgressiveFit:
    """One training of ``model`` on ``annotations`` of ``image`` in two steps.

    ``draft()`` collects the samples and installs a forest of ``n_trees`` trees (the
    full forest at once below ``min_samples`` samples: shallow trees, fitted and
    walked quickly);
    ``full()`` installs the model's full forest grown on the same samples (a
    background thread may call it while the GUI shows the draft's result).  ``cancel``
    and ``callback`` as in ``train``; a cancelled step leaves the model as it was.
    """

    def __init__(
        self,
        model: Any,
        image: Any,
        annotations: Any,
        axes: str | None = None,
        *,
        n_trees: int = DRAFT_TREES,
        min_samples: int = DRAFT_MIN_SAMPLES,
        max_samples: int | None = DRAFT_MAX_SAMPLES,
    ) -> None:
        self.model = model
        self.image, self.annotations, self.axes = image, annotations, axes
        self.template = full_classifier(model.classifier)
        self.draft_template = draft_classifier(self.template, n_trees)
        self.n_trees = n_trees
        self.min_samples = int(min_samples)
        if max_samples is not None and (isinstance(max_samples, bool) or int(max_samples) < 1):
            raise ValueError(f"max_samples must be a positive integer or None, got {max_samples!r}")
        self.max_samples = None if max_samples is None else int(max_samples)
        self.samples: Any = None
        self._draft: Any = None  # the fitted draft while installed by this object
        self.state = "new"  # -> "draft" (draft installed) or "full"; "stale": superseded

    @property
    def pending(self) -> bool:
        """A draft is installed and its full forest not yet."""
        return self.state == "draft"

    def draft(self, cancel: Any = None, callback: Callable[[int, int], None] | None = None) -> bool:
        """Collect the samples and install the draft (the full forest where there is no
        draft); True when a draft was installed, False when the full forest was."""
        from .cancel import cancel_check

        check = cancel_check(cancel)
        self.samples = self.model.training_samples(
            self.image, self.annotations, self.axes, cancel=cancel, callback=callback
        )
        self.image = self.annotations = None  # the samples are all that is needed now
        if self.draft_template is None or len(self.samples.y) < self.min_samples:
            self._fit_and_install(self.template, check, replaces=None)
            self.state = "full"
            return False
        fitted = self._fit(self._capped(self.draft_template, len(self.samples.y)), check)
        setattr(fitted, FULL, self.template)
        self.model.install_classifier(fitted, self.samples)
        self._draft, self.state = fitted, "draft"
        return True

    def full(self, cancel: Any = None) -> bool:
        """Grow the full forest on the draft's samples and install it in place of the draft;
        False (nothing installed) when the draft was replaced meanwhile."""
        from .cancel import cancel_check

        if self.state == "full":
            return True
        if self.state != "draft":
            raise RuntimeError(f"full() needs an installed draft (state: {self.state})")
        check = cancel_check(cancel)
        if self.model.classifier is not self._draft:
            self.state = "stale"
            return False
        if not self._fit_and_install(self.template, check, replaces=self._draft):
            self.state = "stale"
            return False
        self._draft, self.state = None, "full"
        return True

    def _capped(self, template: Any, n: int) -> Any:
        """``template`` whose trees bootstrap at most ``max_samples`` of the ``n`` samples
        (a forest's own smaller ``max_samples`` is kept; other classifiers unchanged)."""
        from .classifier import fresh_copy

        params = template.get_params(deep=False) if hasattr(template, "get_params") else {}
        cap = self.max_samples
        if cap is None or n <= cap or not params.get("bootstrap") or "max_samples" not in params:
            return template
        own = params["max_samples"]  # None: all n; a float: a fraction of n; an int: a count
        own_n = n if own is None else int(own * n) if isinstance(own, float) else int(own)
        return template if own_n <= cap else fresh_copy(template).set_params(max_samples=cap)

    def _fit(self, template: Any, check: Callable[[], None]) -> Any:
        from .classifier import fresh_copy

        check()
        fitted = fresh_copy(template)
        fitted.fit(self.samples.x, self.samples.y)
        check()
        return fitted

    def _fit_and_install(self, template: Any, check: Callable[[], None], replaces: Any) -> bool:
        fitted = self._fit(template, check)
        return bool(self.model.install_classifier(fitted, self.samples, replaces=replaces))


def train_progressive(
    model: Any,
    image: Any,
    annotations: Any,
    axes: str | None = None,
    *,
    n_trees: int = DRAFT_TREES,
    min_samples: int = DRAFT_MIN_SAMPLES,
    max_samples: int | None = DRAFT_MAX_SAMPLES,
    on_draft: Callable[[Any], None] | None = None,
    cancel: Any = None,
) -> Any:
    """``model.train`` in two steps: the draft is installed, ``on_draft(model)`` runs (e.g.
    segments the view with it), then the full forest replaces it; returns ``model``,
    holding exactly the forest of ``model.train(image, annotations, axes)``."""
    fit = ProgressiveFit(
        model,
        image,
        annotations,
        axes,
        n_trees=n_trees,
        min_samples=min_samples,
        max_samples=max_samples,
    )
    if fit.draft(cancel) and on_draft is not None:
        on_draft(model)
    fit.full(cancel)
    return model
