"""Category suggestions from the text of a report, learnt from the system's own closed cases.

A scikit-learn pipeline: character n-gram TF-IDF (`char_wb`, 1–3 characters, sublinear tf, on the
same normalised text as duplicate detection) and a multinomial logistic regression, whose
predicted probabilities are the suggestion scores. No Django: the cases services train it on
closed cases and save it in the data directory; `gridgov cases classifier evaluate` checks it on
any labelled export before it is switched on.
"""

from __future__ import annotations

import pickle
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline

from gridgov.cases.textsim import normalize_text

MODEL_FILENAME = "case-category-model.pkl"
FORMAT = 1


def _pipeline(seed: int = 0) -> Pipeline:
    return Pipeline(
        [
            (
                "tfidf",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(1, 3),
                    sublinear_tf=True,
                    min_df=1,
                    lowercase=False,
                    dtype=np.float32,
                ),
            ),
            ("clf", LogisticRegression(C=10.0, max_iter=300, random_state=seed)),
        ]
    )


class CategoryClassifier:
    """fit(texts, labels) → suggest(text, k=3) → [(label, probability), …], best first."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.pipeline: Pipeline | None = None
        self.classes_: list[str] = []
        self.only_label: str | None = None
        self.n_samples = 0

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> CategoryClassifier:
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        if not texts:
            raise ValueError("nothing to learn from: no labelled texts")
        docs = [normalize_text(t) for t in texts]
        labels = [str(label) for label in labels]
        self.n_samples = len(docs)
        self.classes_ = sorted(set(labels))
        if len(self.classes_) == 1:
            # one category only: every suggestion is that category
            self.only_label, self.pipeline = self.classes_[0], None
            return self
        self.only_label = None
        self.pipeline = _pipeline(self.seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.pipeline.fit(docs, labels)
        self.classes_ = [str(c) for c in self.pipeline.classes_]
        return self

    def _check(self) -> None:
        if self.pipeline is None and self.only_label is None:
            raise RuntimeError("the classifier is not trained")

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        self._check()
        if self.pipeline is None:
            return np.ones((len(texts), 1))
        return self.pipeline.predict_proba([normalize_text(t) for t in texts])

    def suggest_many(self, texts: Sequence[str], k: int = 3) -> list[list[tuple[str, float]]]:
        proba = self.predict_proba(texts)
        out = []
        for row in proba:
            # stable sort: equal probabilities keep the classes' alphabetical order
            order = np.argsort(-row, kind="stable")[: max(0, k)]
            out.append([(self.classes_[i], round(float(row[i]), 4)) for i in order])
        return out

    def suggest(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        return self.suggest_many([text], k)[0]

    # persistence ---------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the model (pickle) atomically; a directory gets MODEL_FILENAME inside it."""
        path = Path(path)
        if path.is_dir():
            path = path / MODEL_FILENAME
        self._check()
        payload = {
            "format": FORMAT,
            "sklearn": sklearn.__version__,
            "seed": self.seed,
            "pipeline": self.pipeline,
            "classes": self.classes_,
            "only_label": self.only_label,
            "n_samples": self.n_samples,
        }
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> CategoryClassifier:
        """Read a model written by `save` (only load files this system wrote: pickle runs code)."""
        path = Path(path)
        if path.is_dir():
            path = path / MODEL_FILENAME
        with open(path, "rb") as fh:
            payload: dict[str, Any] = pickle.load(fh)
        if payload.get("format") != FORMAT:
            raise ValueError(f"{path}: unknown model format {payload.get('format')!r}")
        if payload.get("sklearn") != sklearn.__version__:
            warnings.warn(
                f"{path} was trained with scikit-learn {payload.get('sklearn')}, "
                f"this is {sklearn.__version__}: train it again",
                stacklevel=2,
            )
        model = cls(seed=payload["seed"])
        model.pipeline = payload["pipeline"]
        model.classes_ = list(payload["classes"])
        model.only_label = payload["only_label"]
        model.n_samples = payload["n_samples"]
        return model


def _splitter(labels: Sequence[str], folds: int, seed: int):
    """StratifiedKFold when every class has at least `folds` samples, else shuffled KFold.

    With a class smaller than the number of folds, stratification cannot put one of its
    samples in every fold (scikit-learn warns and the folds get uneven), so plain shuffled
    K-fold is used; such a class is then sometimes missing from a training fold and those of its
    samples are necessarily misclassified, which is what would happen in use too.
    """
    smallest = min(Counter(labels).values())
    if smallest >= folds:
        return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed), "stratified"
    return KFold(n_splits=folds, shuffle=True, random_state=seed), "kfold"


def evaluate(texts: Sequence[str], labels: Sequence[str], folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Cross-validated accuracy, macro-F1, top-3 accuracy and per-class F1 (with support).

    Every sample is predicted once, by the model trained on the other folds.
    """
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    labels = [str(label) for label in labels]
    n = len(labels)
    if n < 2:
        raise ValueError("at least 2 labelled rows are needed to cross-validate")
    folds = max(2, min(int(folds), n))
    splitter, method = _splitter(labels, folds, seed)
    texts = list(texts)
    predicted: list[str] = [""] * n
    in_top3 = np.zeros(n, dtype=bool)
    for train, test in splitter.split(np.zeros(n), labels):
        model = CategoryClassifier(seed=seed).fit([texts[i] for i in train], [labels[i] for i in train])
        suggestions = model.suggest_many([texts[i] for i in test], k=3)
        for i, sug in zip(test, suggestions, strict=True):
            predicted[i] = sug[0][0]
            in_top3[i] = labels[i] in {label for label, _ in sug}
    classes = sorted(set(labels))
    f1s = f1_score(labels, predicted, labels=classes, average=None, zero_division=0)
    support = Counter(labels)
    return {
        "n": n,
        "classes": len(classes),
        "folds": folds,
        "split": method,
        "accuracy": round(float(accuracy_score(labels, predicted)), 4),
        "macro_f1": round(
            float(f1_score(labels, predicted, labels=classes, average="macro", zero_division=0)), 4
        ),
        "top3_accuracy": round(float(in_top3.mean()), 4),
        "per_class": {
            c: {"f1": round(float(f), 4), "support": support[c]} for c, f in zip(classes, f1s, strict=True)
        },
    }
