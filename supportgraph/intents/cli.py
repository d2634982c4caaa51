"""``supportgraph classifier``: train, evaluate and query intent models on any labelled CSV."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from supportgraph.intents.classifier import IntentClassifier, IntentPrediction
from supportgraph.intents.encoder_tuning import TuningReport, TuningSettings, finetune_encoder
from supportgraph.intents.metrics import classification_report
from supportgraph.intents.model import (
    DEFAULT_UNKNOWN_RECALL,
    IntentModel,
    fit_intent_model,
    read_labelled_csv,
)
from supportgraph.intents.taxonomy import UNKNOWN, load_taxonomy
from supportgraph.knowledge.embedder import Embedder
from supportgraph.settings import get_settings

app = typer.Typer(help="Train, evaluate and query intent classifiers.", no_args_is_help=True)

ENCODER_FOLDER = "encoder"
ModelOption = Annotated[
    Path | None, typer.Option("--model", help="model folder; default: the one the agent serves")
]


def _embed(embedder: Embedder, texts: list[str], label: str) -> np.ndarray:
    from tqdm import tqdm

    batches = [texts[i : i + 256] for i in range(0, len(texts), 256)]
    vectors = [embedder.embed(batch) for batch in tqdm(batches, desc=label, unit="batch")]
    return np.vstack(vectors) if vectors else np.zeros((0, 384), dtype=np.float32)


class EncoderMode(StrEnum):
    """Whether training fine-tunes the encoder or keeps it frozen."""

    AUTO = "auto"
    FROZEN = "frozen"
    FINETUNE = "finetune"


# From this many training rows up, ``auto`` fine-tunes: enough data for the encoder to learn
# fine distinctions without forgetting what it knew.
FINETUNE_MIN_ROWS = 1000


@app.command()
def train(
    data: Annotated[Path, typer.Option(help="CSV with columns text,intent")],
    out: Annotated[Path, typer.Option(help="folder to write the model to")],
    validation: Annotated[
        Path | None, typer.Option(help="held-out CSV to calibrate and fit the scope threshold on")
    ] = None,
    encoder: Annotated[
        EncoderMode,
        typer.Option(help=f"auto: fine-tune from {FINETUNE_MIN_ROWS} training rows up"),
    ] = EncoderMode.AUTO,
    time_budget: Annotated[
        float, typer.Option(help="seconds the encoder fine-tuning may take", min=30)
    ] = TuningSettings.time_budget_s,
    unknown_recall: Annotated[
        float | None,
        typer.Option(
            help="out-of-scope recall the threshold is fitted for on the validation data, "
            f"with one standard error to spare (default {DEFAULT_UNKNOWN_RECALL})",
            min=0.0,
            max=1.0,
        ),
    ] = None,
) -> None:
    """Train a model; rows labelled 'unknown' are out-of-scope examples."""
    started = time.perf_counter()
    if unknown_recall is not None and validation is None:
        raise typer.BadParameter("--unknown-recall needs --validation with out-of-scope rows")
    rows = read_labelled_csv(data)
    texts, labels = [row.text for row in rows], [row.intents[0] for row in rows]
    held = read_labelled_csv(validation) if validation is not None else []
    held_texts, held_labels = [row.text for row in held], [row.intents[0] for row in held]
    if unknown_recall is not None and UNKNOWN not in held_labels:
        raise typer.BadParameter(
            "--unknown-recall needs out-of-scope rows (intent 'unknown') in --validation"
        )
    finetune = encoder is EncoderMode.FINETUNE or (
        encoder is EncoderMode.AUTO and len(rows) >= FINETUNE_MIN_ROWS
    )
    base = Embedder(get_settings().embedding_model)
    vectors = _embed(base, texts, "embedding training data")
    held_vectors = _embed(base, held_texts, "embedding validation data") if held else None
    base_vectors = (vectors, held_vectors)
    tuning = None
    if finetune:
        tuning = _finetune(base.model_name, texts, labels, out / ENCODER_FOLDER, time_budget)
        tuned = Embedder(str(out / ENCODER_FOLDER))
        # The classifier reads the tuned vector with the base one beside it (ModelMeta.joins_base).
        vectors = np.hstack([_embed(tuned, texts, "embedding training data"), vectors])
        if held_vectors is not None:
            held_vectors = np.hstack(
                [_embed(tuned, held_texts, "embedding validation data"), held_vectors]
            )
    model = fit_intent_model(
        vectors,
        labels,
        sub_labels=[row.sub_intent for row in rows],
        holdout=(held_vectors, held_labels) if held_vectors is not None else None,
        unknown_recall=unknown_recall,
        base_vectors=base_vectors,
    )
    model.meta.encoder = ENCODER_FOLDER if finetune else None
    model.meta.joins_base = finetune
    model.save(out)
    typer.echo(
        json.dumps(
            {
                "model": str(out),
                "version": model.version,
                "labels": len(model.meta.labels),
                "n_train": model.meta.n_train,
                "encoder": "finetuned" if finetune else "frozen",
                "tuning": asdict(tuning) if tuning else None,
                "scope_threshold": round(model.meta.scope_threshold, 4),
                "train_seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


def _finetune(
    base: str, texts: list[str], labels: list[str], folder: Path, budget: float
) -> TuningReport:
    from tqdm import tqdm

    with tqdm(desc="fine-tuning the encoder", unit="step") as bar:

        def progress(step: int, total: int, loss: float) -> None:
            bar.total = total
            bar.n = step
            bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
            bar.refresh()

        return finetune_encoder(
            base,
            texts,
            labels,
            folder,
            settings=TuningSettings(time_budget_s=budget),
            progress=progress,
        )


def _predictor(model_dir: Path | None) -> Callable[[str], list[IntentPrediction]]:
    """A model folder's classifier; without one, the agent's, reading what the agent reads."""
    if model_dir is None:
        from supportgraph.services import Services

        services = Services(get_settings())
        serving = services.classifier
        return lambda text: serving.predict_text(services.model_text(text))
    classifier = IntentClassifier(
        load_taxonomy(),
        IntentModel.load(model_dir),
        embedder=Embedder(get_settings().embedding_model),
    )
    return classifier.predict_text


@app.command(name="eval")
def evaluate(
    data: Annotated[Path, typer.Option(help="CSV with columns text,intent")],
    model: ModelOption = None,
) -> None:
    """Print accuracy, macro-F1, in-scope accuracy, unknown precision/recall and latency."""
    classify = _predictor(model)
    rows = read_labelled_csv(data)
    predicted: list[str] = []
    latencies: list[float] = []
    classify("warm up")
    for row in rows:
        started = time.perf_counter()
        predicted.append(classify(row.text)[0].intent)
        latencies.append((time.perf_counter() - started) * 1000)
    report = classification_report([row.intents[0] for row in rows], predicted, latencies)
    typer.echo(json.dumps(report))


@app.command()
def predict(model: ModelOption = None) -> None:
    """Read one message per line on stdin; print one JSON line per message."""
    classify = _predictor(model)
    for line in sys.stdin:
        text = line.strip()
        if not text:
            continue
        top = classify(text)[0]
        typer.echo(
            json.dumps(
                {
                    "text": text,
                    "intent": top.intent,
                    "confidence": round(top.confidence, 4),
                    "classifier_used": top.classifier_used,
                }
            )
        )
