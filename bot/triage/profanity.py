"""alt-profanity-check's classifier, scored without importing scikit-learn.

The package's model is a tf-idf vectorizer of single words and five sigmoid-calibrated linear SVMs; its
`predict_prob` imports scikit-learn and SciPy to run them, about two seconds before the first sentence
(most of what triage adds to a one-leaf review). Here the same pickles are read with joblib, each
scikit-learn class standing in as a bare holder of its fitted arrays, and scored with the same
arithmetic in numpy. A model of any other shape (a new release of the package) is run by the package
itself, and tests/triage/test_profanity.py holds the two to the same probabilities.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import re
import sys
import types
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

_LIBRARY = "sklearn"


class _Fitted:
    """A scikit-learn object as its pickle holds it: its parameters and fitted attributes, nothing to run."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


class _StandIns(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers every `sklearn...` import with a module whose every class is a `_Fitted` of that name."""

    def find_spec(self, fullname: str, path: object, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != _LIBRARY and not fullname.startswith(_LIBRARY + "."):
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = types.ModuleType(spec.name)
        classes: dict[str, type] = {}
        module.__getattr__ = lambda name: classes.setdefault(name, type(name, (_Fitted,), {}))  # type: ignore
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        return None


@contextlib.contextmanager
def _standing_in() -> Iterator[None]:
    finder = _StandIns()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in [n for n in sys.modules if n == _LIBRARY or n.startswith(_LIBRARY + ".")]:
            del sys.modules[name]


class LinearProfanity:
    """The package's vectorizer and calibrated classifiers as arrays: `predict_prob` as the package's."""

    def __init__(self, vectorizer: Any, model: Any) -> None:
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.idf = np.asarray(vectorizer._tfidf.idf_, dtype=np.float64)
        self.token = re.compile(vectorizer.token_pattern)
        folds = model.calibrated_classifiers_
        self.coef = np.vstack([np.asarray(f.estimator.coef_, dtype=np.float64).reshape(-1) for f in folds])
        self.intercept = np.array([float(np.asarray(f.estimator.intercept_).reshape(-1)[0]) for f in folds])
        self.a = np.array([float(f.calibrators[0].a_) for f in folds])
        self.b = np.array([float(f.calibrators[0].b_) for f in folds])

    def predict_prob(self, texts: Sequence[str]) -> np.ndarray:
        """The probability of each text being offensive, all texts at once: tf-idf of the model's words,
        L2-normalised, each fold's decision and sigmoid calibration, averaged over the folds."""
        rows, ids = [], []
        for row, text in enumerate(texts):
            found = [self.vocabulary[w] for w in self.token.findall(text.lower()) if w in self.vocabulary]
            rows += [row] * len(found)
            ids += found
        size, n = len(self.idf), len(texts)
        pairs, counts = np.unique(np.array(rows, dtype=np.int64) * size + np.array(ids, dtype=np.int64),
                                  return_counts=True)  # fmt: skip
        row_of, word = pairs // size, pairs % size
        weights = counts * self.idf[word]
        norm = np.sqrt(np.bincount(row_of, weights * weights, minlength=n))
        scale = np.divide(weights, norm[row_of])
        decision = np.stack([np.bincount(row_of, scale * coef[word], minlength=n) for coef in self.coef], axis=1)
        positive = 1.0 / (1.0 + np.exp(self.a * (decision + self.intercept) + self.b))  # each fold's calibration
        positive[(positive > 1.0) & (positive <= 1.0 + 1e-5)] = 1.0
        return positive.mean(axis=1)


def _plain(vectorizer: Any, model: Any) -> bool:
    """Whether the pickled model is the shape LinearProfanity computes exactly."""
    settings = {"lowercase": True, "analyzer": "word", "ngram_range": (1, 1), "norm": "l2", "use_idf": True,
                "sublinear_tf": False, "binary": False, "strip_accents": None, "preprocessor": None,
                "tokenizer": None}  # fmt: skip
    if any(getattr(vectorizer, key, object()) != value for key, value in settings.items()):
        return False
    features = len(getattr(vectorizer, "vocabulary_", {}))
    folds = getattr(model, "calibrated_classifiers_", [])
    return bool(folds) and all(
        getattr(f, "method", None) == "sigmoid" and len(getattr(f, "calibrators", [])) == 1
        and len(getattr(f, "classes", [])) == 2 and np.shape(getattr(f.estimator, "coef_", None)) == (1, features)
        for f in folds
    )  # fmt: skip


def load_classifier() -> Any:
    """An object with the package's `predict_prob`: LinearProfanity where the model allows, else the package."""
    spec = importlib.util.find_spec("profanity_check")
    if spec is None or spec.origin is None:
        raise ImportError("alt-profanity-check is not installed")
    data = Path(spec.origin).parent / "data"
    if _LIBRARY not in sys.modules:
        import joblib

        with _standing_in():
            vectorizer, model = joblib.load(data / "vectorizer.joblib"), joblib.load(data / "model.joblib")
        if _plain(vectorizer, model):
            return LinearProfanity(vectorizer, model)
    from profanity_check import profanity_check

    return profanity_check
