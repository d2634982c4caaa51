"""Fine-tuning the encoder: the CLI trains, saves and serves a model with its own encoder."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from supportgraph.cli import app
from supportgraph.intents.classifier import IntentClassifier
from supportgraph.intents.model import IntentModel
from supportgraph.intents.taxonomy import load_taxonomy

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


def write_csv(path: Path, rows: dict[str, list[str]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "intent"])
        for intent, texts in rows.items():
            writer.writerows([text, intent] for text in texts)


def test_train_finetunes_the_encoder_and_the_model_serves_with_it(tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    write_csv(data, ROWS)
    out = tmp_path / "model"
    result = CliRunner().invoke(
        app,
        [
            *("classifier", "train", "--data", str(data), "--out", str(out)),
            *("--encoder", "finetune", "--time-budget", "30"),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["encoder"] == "finetuned"
    assert report["tuning"]["epochs"] >= 1 and report["tuning"]["steps"] >= 1
    assert (out / "encoder").is_dir()

    model = IntentModel.load(out)
    assert model.meta.encoder == "encoder" and model.encoder is not None
    classifier = IntentClassifier(load_taxonomy(), model)
    # No shared embedder: the model embeds with its own tuned encoder.
    top = classifier.predict_text("my sim card is not recognised")[0]
    assert top.intent == "sim_not_working"
    assert top.classifier_used == "embedding"
