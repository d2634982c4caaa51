"""``supportgraph classifier`` on a company's own CSV: train, eval and predict, out-of-scope too."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import settings_for
from test_encoder_tuning import HELD_OUT, ROWS, write_csv
from testkit import Prepared
from typer.testing import CliRunner

from supportgraph.cli import app
from supportgraph.intents import cli
from supportgraph.intents import model as model_module
from supportgraph.intents.model import (
    DEFAULT_UNKNOWN_RECALL,
    IntentModel,
    fit_intent_model,
    recall_with_margin,
)
from supportgraph.intents.taxonomy import UNKNOWN


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    folder = tmp_path_factory.mktemp("classifier")
    write_csv(folder / "train.csv", ROWS)
    write_csv(folder / "validation.csv", HELD_OUT)
    result = CliRunner().invoke(
        app,
        [
            *("classifier", "train", "--data", str(folder / "train.csv")),
            *("--validation", str(folder / "validation.csv"), "--out", str(folder / "model")),
        ],
    )
    assert result.exit_code == 0, result.output
    return folder, json.loads(result.stdout.strip().splitlines()[-1])


def test_train_fits_a_scope_threshold_on_the_held_out_out_of_scope_rows(
    trained: tuple[Path, dict[str, object]],
) -> None:
    folder, report = trained
    assert report["encoder"] == "frozen"  # 18 rows: too few to fine-tune
    model = IntentModel.load(folder / "model")
    assert UNKNOWN not in model.meta.labels  # never trained on out-of-scope rows
    assert round(model.meta.scope_threshold, 4) == report["scope_threshold"] > -1.0
    assert model.centroids is not None and model.centroids.shape == (3, 384)


def test_eval_prints_the_figures_of_a_labelled_file(
    trained: tuple[Path, dict[str, object]],
) -> None:
    folder, _ = trained
    result = CliRunner().invoke(
        app,
        [
            "classifier",
            "eval",
            "--model",
            str(folder / "model"),
            "--data",
            str(folder / "validation.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["n"] == 10
    assert figures["unknown_recall"] == 1.0 and figures["in_scope_accuracy"] == 1.0
    assert figures["accuracy"] == figures["macro_f1"] == figures["unknown_precision"] == 1.0
    assert 0 < figures["p50_ms"] <= figures["p95_ms"]


def test_predict_answers_out_of_scope_messages_with_unknown(
    trained: tuple[Path, dict[str, object]],
) -> None:
    folder, _ = trained
    messages = ["my sim card is not recognised", "what's a good film to watch tonight"]
    result = CliRunner().invoke(
        app, ["classifier", "predict", "--model", str(folder / "model")], input="\n".join(messages)
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [line["intent"] for line in lines] == ["sim_not_working", UNKNOWN]
    assert all(line["classifier_used"] == "embedding" for line in lines)
    assert lines[0]["confidence"] > 0.5


def test_without_a_model_predict_reads_messages_as_the_agent_does(
    data_dir: Path, prepared: Prepared, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The agent's model reads the message with its typos repaired; so must its figures.
    monkeypatch.setattr(cli, "get_settings", lambda: settings_for(data_dir, prepared))
    messages = ["reufnd", "can you canel the sofa i ordeed"]
    result = CliRunner().invoke(app, ["classifier", "predict"], input="\n".join(messages))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [line["text"] for line in lines] == messages  # echoed as written
    assert [line["intent"] for line in lines] == ["refund", "cancel_order"]


def test_unknown_recall_needs_out_of_scope_validation_rows(tmp_path: Path) -> None:
    write_csv(tmp_path / "train.csv", ROWS)
    write_csv(tmp_path / "validation.csv", {"sim_not_working": ["sim error"]})
    base = ["classifier", "train", "--data", str(tmp_path / "train.csv")]
    base += ["--out", str(tmp_path / "model"), "--unknown-recall", "0.9"]
    missing = CliRunner().invoke(app, base)
    assert missing.exit_code == 2 and "--validation" in missing.output
    validation = ["--validation", str(tmp_path / "validation.csv")]
    in_scope_only = CliRunner().invoke(app, [*base, *validation])
    assert in_scope_only.exit_code == 2 and "out-of-scope rows" in in_scope_only.output
    assert not (tmp_path / "model").exists()


def test_the_scope_threshold_is_the_loosest_reaching_the_recall_with_a_margin() -> None:
    rng = np.random.default_rng(3)
    centers = np.eye(4)[:3] * 3.0
    train = np.vstack([center + rng.normal(0, 0.6, (30, 4)) for center in centers])
    labels = [label for label in ("a", "b", "c") for _ in range(30)]
    # Out-of-scope rows: most far from every intent, a few close to one.
    far = np.eye(4)[3] * 3.0 + rng.normal(0, 0.6, (36, 4))
    held = np.vstack(
        [centers[0] + rng.normal(0, 0.6, (20, 4)), far, centers[0] + rng.normal(0, 1.0, (4, 4))]
    )
    held_labels = ["a"] * 20 + [UNKNOWN] * 40

    default = fit_intent_model(train, labels, holdout=(held, held_labels))
    score = scope_scores(default, held)

    def unknown_recall(threshold: float) -> float:
        return float(np.mean(score[20:] < threshold))

    required = recall_with_margin(DEFAULT_UNKNOWN_RECALL, 40)
    assert required == pytest.approx(0.9 + 0.3 / np.sqrt(40))
    fitted = default.meta.scope_threshold
    assert unknown_recall(fitted) >= required
    assert default.meta.metrics["holdout_unknown_recall"] == unknown_recall(fitted)
    # Any looser threshold keeps more in-scope rows but falls short of the recall.
    assert all(unknown_recall(looser) < required for looser in score[score < fitted])
    assert np.mean(score[:20] < fitted) < 0.25  # most in-scope rows are kept

    strict = fit_intent_model(train, labels, holdout=(held, held_labels), unknown_recall=0.99)
    assert np.mean(scope_scores(strict, held)[20:] < strict.meta.scope_threshold) == 1.0
    assert fit_intent_model(train, labels).meta.scope_threshold == -1.0  # nothing to fit it on


def scope_scores(model: IntentModel, vectors: np.ndarray) -> np.ndarray:
    return model.scope_score(vectors, model.probabilities(vectors).max(axis=1))


def kept_right(model: IntentModel, vectors: np.ndarray, labels: list[str]) -> tuple[float, float]:
    """In-scope rows classified right (not turned away) and out-of-scope recall."""
    predicted = np.array(model.meta.labels)[model.probabilities(vectors).argmax(axis=1)]
    decided = np.where(
        scope_scores(model, vectors) < model.meta.scope_threshold, UNKNOWN, predicted
    )
    truth = np.array(labels)
    inside = truth != UNKNOWN
    return (
        float((decided[inside] == truth[inside]).mean()),
        float((decided[~inside] == UNKNOWN).mean()),
    )


def test_the_models_confidence_joins_the_scope_score_where_it_keeps_more_right(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Out-of-scope messages between two intents, and in-scope ones worded unlike their intent.

    The centroid similarity alone cannot tell them apart; the model's confidence can (unsure
    between two intents, sure of the unusual wording's), and the cross-validated weight finds it.
    """
    rng = np.random.default_rng(5)
    axes = np.eye(4) * 3.0
    train = np.vstack([axes[i] + rng.normal(0, 0.5, (40, 4)) for i in range(3)])
    labels = [label for label in "abc" for _ in range(40)]
    held = np.vstack(
        [
            *(axes[i] + rng.normal(0, 0.5, (20, 4)) for i in range(3)),
            axes[0] + axes[3] * 0.9 + rng.normal(0, 0.4, (30, 4)),  # "a", unusually worded
            (axes[0] + axes[1]) / 2 + rng.normal(0, 0.4, (60, 4)),  # out of scope, near two
            axes[3] + rng.normal(0, 0.5, (40, 4)),  # out of scope, near none
        ]
    )
    held_labels = [label for label in "abc" for _ in range(20)] + ["a"] * 30 + [UNKNOWN] * 100

    combined = fit_intent_model(train, labels, holdout=(held, held_labels))
    monkeypatch.setattr(model_module, "SCOPE_WEIGHT_STEPS", (0.0,))
    similarity_alone = fit_intent_model(train, labels, holdout=(held, held_labels))

    assert similarity_alone.meta.scope_confidence_weight == 0.0
    assert combined.meta.scope_confidence_weight > 0.0
    kept, recall = kept_right(combined, held, held_labels)
    kept_before, recall_before = kept_right(similarity_alone, held, held_labels)
    assert recall >= 0.93 and recall_before >= 0.93
    assert kept > 0.9 > 0.7 > kept_before


def test_the_recall_margin_shrinks_with_more_out_of_scope_rows() -> None:
    assert recall_with_margin(0.9, 100) == pytest.approx(0.93)
    assert recall_with_margin(0.9, 900) == pytest.approx(0.91)
    assert recall_with_margin(0.9, 0) == 0.9
    assert recall_with_margin(0.99, 1) == 1.0


def test_keyword_rules_stay_out_of_a_model_trained_on_another_label_set() -> None:
    """A benchmark's ``order_status`` shares a name with ours, not our rule's meaning."""
    from supportgraph.intents.classifier import IntentClassifier
    from supportgraph.intents.taxonomy import load_taxonomy
    from supportgraph.knowledge.embedder import Embedder
    from supportgraph.settings import get_settings

    embedder = Embedder(get_settings().embedding_model)
    rows = {
        "order_status": ["has my package shipped yet", "when will my online order arrive"],
        "find_phone": ["help me locate my phone", "I can't find my mobile anywhere"],
    }
    texts = [text for examples in rows.values() for text in examples]
    labels = [label for label, examples in rows.items() for _ in examples]
    model = fit_intent_model(embedder.embed(texts), labels)
    text = "where is my phone"
    foreign = IntentClassifier(load_taxonomy(), model, embedder=embedder)
    assert foreign.rule_intents(text) == set()
    top = foreign.predict_text(text)[0]
    assert (top.intent, top.classifier_used) == ("find_phone", "embedding")
    # The agent's own taxonomy keeps its rules.
    ours = IntentClassifier(load_taxonomy(), None)
    assert ours.rule_intents(text) == {"order_status"}
