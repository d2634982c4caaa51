"""Knowledge eval: retrieval recall, answer facts and groundedness on the project's questions."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from supportgraph.knowledge.answer import extractive_answer
from supportgraph.knowledge.grounding import unsupported_facts
from supportgraph.services import Services

QUESTIONS = Path(__file__).parent / "knowledge" / "questions.jsonl"


class KnowledgeQuestion(BaseModel):
    """A question with the chunks that answer it and the facts a right answer contains."""

    id: str
    question: str
    gold_chunks: list[str] = Field(default_factory=list)
    gold_facts: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)


def load_questions(path: Path = QUESTIONS) -> list[KnowledgeQuestion]:
    """The questions of the knowledge suite."""
    lines = path.read_text().splitlines()
    return [KnowledgeQuestion.model_validate(json.loads(line)) for line in lines if line.strip()]


def _rank(hit_ids: list[str], gold: list[str]) -> int | None:
    return next((rank for rank, hit in enumerate(hit_ids, 1) if hit in gold), None)


def _article(chunk_id: str) -> str:
    return chunk_id.split("#", 1)[0]


def run_knowledge_eval(services: Services, path: Path = QUESTIONS) -> dict[str, Any]:
    """Retrieve and answer every question without an LLM; score against the gold data."""
    questions = load_questions(path)
    texts = [services.model_text(q.question) for q in questions]
    vectors = services.embedder.embed(texts)
    ranks: list[int | None] = []
    article_ranks: list[int | None] = []
    latencies: list[float] = []
    fact_hits = answered = unsupported = abstained_right = wrong_abstain = 0
    misses: list[dict[str, Any]] = []
    for question, text, vector in zip(questions, texts, vectors, strict=True):
        started = time.perf_counter()
        hits = services.knowledge.search(vector, query=text, k=5)
        latencies.append((time.perf_counter() - started) * 1000)
        candidates = [(h.id, h.title, h.text, h.score) for h in hits]
        answer = extractive_answer(text, candidates, embedder=services.embedder)
        if not question.gold_chunks:
            abstained_right += answer is None
            continue
        ranks.append(_rank([hit.id for hit in hits], question.gold_chunks))
        article_ranks.append(
            _rank([_article(hit.id) for hit in hits], [_article(c) for c in question.gold_chunks])
        )
        if ranks[-1] is None or ranks[-1] > 3:
            misses.append({"id": question.id, "top": [h.id for h in hits[:3]]})
        if answer is None:
            wrong_abstain += 1
            continue
        answered += 1
        unsupported += bool(unsupported_facts(answer.text, [answer.evidence]))
        fact_hits += all(fact.lower() in answer.text.lower() for fact in question.gold_facts)
    answerable = len(ranks)
    unanswerable = len(questions) - answerable
    return {
        "questions": len(questions),
        "article_recall_at_1": round(sum(r == 1 for r in article_ranks) / max(1, answerable), 4),
        "article_recall_at_3": round(
            sum(r is not None and r <= 3 for r in article_ranks) / max(1, answerable), 4
        ),
        "recall_at_1": round(sum(r == 1 for r in ranks) / max(1, answerable), 4),
        "recall_at_3": round(sum(r is not None and r <= 3 for r in ranks) / max(1, answerable), 4),
        "recall_at_5": round(sum(r is not None for r in ranks) / max(1, answerable), 4),
        "mrr": round(sum(1 / r for r in ranks if r) / max(1, answerable), 4),
        "answer_fact_recall": round(fact_hits / max(1, answerable), 4),
        "answers_with_unsupported_facts": unsupported,
        "hallucination_rate": round(unsupported / max(1, answered), 4),
        "abstained_when_unanswerable": round(abstained_right / max(1, unanswerable), 4),
        "abstained_when_answerable": round(wrong_abstain / max(1, answerable), 4),
        "retrieval_p50_ms": round(sorted(latencies)[len(latencies) // 2], 3) if latencies else 0.0,
        "retrieval_misses": misses[:20],
    }
