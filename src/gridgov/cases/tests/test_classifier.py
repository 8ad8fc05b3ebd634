"""Category suggestions: training, suggestions, persistence and cross-validation."""

from __future__ import annotations

import pytest

from gridgov.cases.classifier import MODEL_FILENAME, CategoryClassifier, evaluate
from gridgov.cases.tests.test_textsim import CATEGORIES, labelled_texts


@pytest.fixture(scope="module")
def data():
    texts, labels = labelled_texts(1200, seed=21)
    return texts[:900], labels[:900], texts[900:], labels[900:]


@pytest.fixture(scope="module")
def model(data):
    train_x, train_y, _, _ = data
    return CategoryClassifier().fit(train_x, train_y)


def test_held_out_accuracy_is_far_above_chance(model, data):
    _, _, test_x, test_y = data
    suggestions = model.suggest_many(test_x, k=3)
    top1 = sum(s[0][0] == y for s, y in zip(suggestions, test_y, strict=True)) / len(test_y)
    top3 = sum(y in {label for label, _ in s} for s, y in zip(suggestions, test_y, strict=True)) / len(test_y)
    assert top1 >= 0.85  # chance is 1/8
    assert top3 >= 0.95


def test_suggest_gives_three_sorted_probabilities(model):
    got = model.suggest("锦绣花园3栋楼下的井盖不见了，晚上很危险")
    assert len(got) == 3
    assert got[0][0] == "市政设施/井盖缺失"
    scores = [score for _, score in got]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 1 for s in scores)
    assert sum(model.predict_proba(["任何文本"])[0]) == pytest.approx(1.0)
    assert len(model.suggest("消防通道被堵", k=20)) == len(CATEGORIES)
    # full-width text is read like half-width
    assert model.suggest("ＡＢＣ小区井盖缺失") == model.suggest("abc小区井盖缺失")


def test_save_and_load_round_trip(model, tmp_path):
    path = model.save(tmp_path)
    assert path.name == MODEL_FILENAME
    loaded = CategoryClassifier.load(tmp_path)
    text = "人民路有流动摊贩占道经营"
    assert loaded.suggest(text) == model.suggest(text)
    assert loaded.classes_ == model.classes_


def test_tiny_classes_and_single_class():
    texts, labels = labelled_texts(80, seed=2)
    texts += ["小区里有野狗咬人"]
    labels += ["其他/动物伤人"]  # one sample only
    model = CategoryClassifier().fit(texts, labels)
    assert "其他/动物伤人" in model.classes_
    one = CategoryClassifier().fit(["井盖缺失", "井盖不见了"], ["井盖", "井盖"])
    assert one.suggest("什么都行") == [("井盖", 1.0)]
    with pytest.raises(RuntimeError):
        CategoryClassifier().suggest("x")
    with pytest.raises(ValueError):
        CategoryClassifier().fit(["a"], [])


def test_evaluate_metrics():
    texts, labels = labelled_texts(640, seed=4)
    m = evaluate(texts, labels, folds=4)
    assert set(m) >= {"accuracy", "macro_f1", "top3_accuracy", "per_class", "n", "folds", "split"}
    assert m["n"] == 640 and m["folds"] == 4 and m["split"] == "stratified"
    assert m["accuracy"] >= 0.85 and m["macro_f1"] >= 0.85 and m["top3_accuracy"] >= 0.95
    assert set(m["per_class"]) == set(CATEGORIES)
    assert sum(c["support"] for c in m["per_class"].values()) == 640
    assert all(0 <= c["f1"] <= 1 for c in m["per_class"].values())
    # deterministic
    assert evaluate(texts, labels, folds=4) == m


def test_evaluate_falls_back_to_kfold_for_a_class_smaller_than_the_folds():
    texts, labels = labelled_texts(200, seed=6)
    texts += ["小区里有野狗咬人", "流浪狗咬伤老人"]
    labels += ["其他/动物伤人", "其他/动物伤人"]
    m = evaluate(texts, labels, folds=5)
    assert m["split"] == "kfold"
    assert m["per_class"]["其他/动物伤人"]["support"] == 2
    with pytest.raises(ValueError):
        evaluate(["a"], ["b"])
