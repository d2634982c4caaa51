"""Fine-tuning the encoder: the CLI trains, saves and serves a model with its own encoder."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from typer.testing import CliRunner

from supportgraph.cli import app
from supportgraph.intents.classifier import IntentClassifier
from supportgraph.intents.encoder_tuning import TuningSettings, affordable_epochs
from supportgraph.intents.model import IntentModel, intent_centroids
from supportgraph.intents.taxonomy import load_taxonomy
from supportgraph.knowledge.embedder import Embedder
from supportgraph.settings import get_settings

ROWS = {
    "roaming_charges": [
        "why was I charged so much while in Spain",
        "huge bill after my trip abroad",
        "roaming fees on my last invoice look wrong",
        "does my plan cover data in France",
        "I got charged for calls while travelling",
        "what does it cost to use my phone in Mexico",
    ],
    "sim_not_working": [
        "my sim card says invalid",
        "phone shows no sim inserted",
        "new sim is not being recognised",
        "sim stopped working this morning",
        "it keeps saying sim card failure",
        "the card in my phone is dead",
    ],
    "unlock_handset": [
        "can you unlock my phone for another network",
        "I need the unlock code for my handset",
        "how do I use a different carrier's sim in this phone",
        "is my phone locked to you",
        "unlock my device please, contract is over",
        "I want my phone network unlocked",
    ],
}

HELD_OUT = {
    "roaming_charges": ["my bill is crazy after my holiday in Italy", "extra fees for data abroad"],
    "sim_not_working": ["the phone can't read my sim", "sim error since yesterday"],
    "unlock_handset": ["unlock code for my phone please", "can I take my phone to another carrier"],
    "unknown": [
        "what's the weather in Paris tomorrow",
        "recommend a good pasta recipe",
        "who won the football match last night",
        "how tall is mount everest",
    ],
}


def write_csv(path: Path, rows: dict[str, list[str]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "intent"])
        for intent, texts in rows.items():
            writer.writerows([text, intent] for text in texts)


def test_train_finetunes_the_encoder_and_the_model_serves_with_it(tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    write_csv(data, ROWS)
    write_csv(tmp_path / "validation.csv", HELD_OUT)
    out = tmp_path / "model"
    result = CliRunner().invoke(
        app,
        [
            *("classifier", "train", "--data", str(data), "--out", str(out)),
            *("--encoder", "finetune", "--time-budget", "30"),
            *("--validation", str(tmp_path / "validation.csv")),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    base = Embedder(get_settings().embedding_model).model_name
    assert report["encoder"] == "finetuned"
    assert report["tuning"]["epochs"] >= 1 and report["tuning"]["steps"] >= 1
    assert (out / "encoder").is_dir()
    folders = (str(out / "encoder"), base)
    tuned, original = (SentenceTransformer(path, device="cpu")[0].auto_model for path in folders)
    # The word embeddings stay as they were; the layers above them learned.
    assert torch.equal(tuned.get_input_embeddings().weight, original.get_input_embeddings().weight)
    assert not torch.equal(
        tuned.encoder.layer[-1].output.dense.weight, original.encoder.layer[-1].output.dense.weight
    )

    model = IntentModel.load(out)
    assert model.meta.encoder == "encoder" and model.encoder is not None
    # Scope is measured with the base encoder: its centroids, its threshold.
    texts = [text for rows in ROWS.values() for text in rows]
    labels = [label for label, rows in ROWS.items() for _ in rows]
    base_centroids = intent_centroids(Embedder(base).embed(texts), labels, model.meta.labels)
    assert np.allclose(model.centroids, base_centroids, atol=1e-5)
    assert model.meta.scope_threshold > -1.0
    # The classifier reads the tuned vector with the base one beside it.
    assert model.meta.joins_base
    shared = Embedder(base)
    message = "my sim card is not recognised"
    plain = shared.embed_one(message)
    vector = model.message_vector(message, plain)
    assert vector is not None and vector.shape == (2 * len(plain),)
    assert np.allclose(vector[len(plain) :], plain)
    assert model.message_vector(message, None) is None
    classifier = IntentClassifier(load_taxonomy(), model, embedder=shared)
    top = classifier.predict_text(message)[0]
    assert top.intent == "sim_not_working"
    assert top.classifier_used == "embedding"


def test_the_epochs_fit_the_time_budget_within_bounds() -> None:
    settings = TuningSettings(time_budget_s=600.0, max_epochs=8, min_epochs=1)
    assert affordable_epochs(settings, 100.0, at_least=1) == 6
    assert affordable_epochs(settings, 10.0, at_least=1) == 8  # capped
    assert affordable_epochs(settings, 5000.0, at_least=1) == 1  # one at least
    assert affordable_epochs(settings, 5000.0, at_least=3) == 3  # never fewer than started
