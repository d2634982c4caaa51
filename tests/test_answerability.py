"""The answerability features and the fit's operating point (no serving decision yet)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from supportgraph.knowledge.answerability import (
    Answerability,
    load_answerability,
    stems,
)
from supportgraph.knowledge.answerability_fit import in_check_part, load_rows, threshold_for
from supportgraph.knowledge.chunking import chunk_directory
from supportgraph.knowledge.embedder import Embedder

ARTICLES = Path(__file__).resolve().parent.parent / "supportgraph" / "demo" / "articles"
LABELLED = Path(__file__).resolve().parent.parent / "evals" / "knowledge" / "answerability.jsonl"


def blank_model() -> Answerability:
    chunks = chunk_directory(ARTICLES)
    return Answerability.untrained(f"{c.title} {c.heading} {c.text}" for c in chunks)


def test_the_labelled_questions_are_enough_and_name_real_sections() -> None:
    rows = load_rows(LABELLED)
    ids = {chunk.id for chunk in chunk_directory(ARTICLES)}
    texts = {chunk.id: chunk.text.lower() for chunk in chunk_directory(ARTICLES)}
    answerable = [row for row in rows if row["answerable"]]
    unanswerable = [row for row in rows if not row["answerable"]]
    assert len(answerable) >= 150 and len(unanswerable) >= 150
    assert all(row["near"] in ids for row in unanswerable)
    for row in answerable:
        assert row["gold_chunks"] and set(row["gold_chunks"]) <= ids, row["id"]
        assert any(row["gold_fact"].lower() in texts[c] for c in row["gold_chunks"]), row["id"]
    held_apart = sum(in_check_part(row["id"]) for row in rows) / len(rows)
    assert 0.2 < held_apart < 0.4


def test_a_near_miss_lacks_a_rare_word_that_a_paraphrase_does_not(embedder: Embedder) -> None:
    model = blank_model()
    promo = next(c for c in chunk_directory(ARTICLES) if c.id == "promo-codes#overview")
    candidate = [(promo.id, promo.title, promo.text, 0.6)]
    near_miss = model.features("do you have student discounts?", candidate, embedder.embed)
    on_topic = model.features("do you offer discount codes?", candidate, embedder.embed)
    assert near_miss["rarest_missing"] > on_topic["rarest_missing"]
    assert near_miss["unmatched_meaning"] > on_topic["unmatched_meaning"]
    assert near_miss["covered_by_rarity"] < on_topic["covered_by_rarity"]
    assert "student" in stems("Student discounts?")


def test_the_threshold_abstains_on_the_share_of_negatives_asked_for() -> None:
    probabilities = np.array([0.1, 0.2, 0.3, 0.4, 0.9, 0.8])
    labels = np.array([0, 0, 0, 0, 1, 1])
    threshold = threshold_for(probabilities, labels, 0.75)
    assert (probabilities[labels == 0] < threshold).mean() == 0.75
    assert (probabilities[labels == 1] >= threshold).all()


def test_a_stored_model_loads_and_decides(tmp_path: Path) -> None:
    model = blank_model()
    stored = {**model.to_json(), "bias": 3.0}
    path = tmp_path / "answerability.json"
    path.write_text(json.dumps(stored))
    loaded = load_answerability(path)
    assert loaded is not None and loaded.bias == 3.0
    assert loaded.answers("how do I use a promo code?", [("x", "Promo codes", "Use it.", 0.5)])
    assert load_answerability(tmp_path / "missing.json") is None
