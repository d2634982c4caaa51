"""The cascade: keyword rules → embedding model → (LLM, when configured) → unknown."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict

from supportgraph.intents.clauses import clause_at, split_clauses
from supportgraph.intents.model import IntentModel
from supportgraph.intents.rules import RuleMatch, match_rules, sub_intent_for
from supportgraph.intents.taxonomy import UNKNOWN, Taxonomy
from supportgraph.knowledge.embedder import Embedder

RULE_CONFIDENCE = 0.95
# A message whose clauses found two requests or more, and whose whole reading is unsure (its
# top intent under this), is read by its clauses alone: "The shoes STILL aren't here ... how
# do I swap the card saved on my account for a new one?" read as a whole was a 31% refund, a
# 22% question and a 21% account update beside the clauses' 99% complaint and 98% card
# change, and the reply led with "there is nothing to refund". With one clause intent the
# whole reading stays ("can my phone case ship to my work instead? <address>").
UNSURE_WHOLE_MESSAGE = 0.5


class IntentPrediction(BaseModel):
    """One intent of a message, as decided by one tier of the cascade."""

    model_config = ConfigDict(frozen=True)

    intent: str
    sub_intent: str | None = None
    confidence: float
    margin: float | None = None
    classifier_used: str
    model_version: str | None = None
    latency_ms: float = 0.0
    evidence: str | None = None
    # What a decisive sub-intent rule says the message is about when the model read its words
    # otherwise (the sub-intent's description): the message's own embedding misleads a search.
    topic: str | None = None


@dataclass(frozen=True)
class LlmVerdict:
    """What an LLM tier answered: intents with confidences (validated by the caller)."""

    intents: list[tuple[str, str | None, float]]


LlmTier = Callable[[str, list[str]], LlmVerdict | None]


def embed_message(embedder: Embedder, text: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The message's vector and, when it has several clauses, theirs (one batch of clauses).

    The clauses are not batched with the message: padded to the whole message's length, a
    batch of both took more encoder time than the two passes.
    """
    clauses = split_clauses(text)
    vector = embedder.embed_one(text)
    return vector, embedder.embed(clauses) if len(clauses) > 1 else None


class IntentClassifier:
    """Decides a message's intents, cheapest tier first, and says which tier decided."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        model: IntentModel | None,
        *,
        llm_tier: LlmTier | None = None,
        llm_below: float = 0.6,
        embedder: Embedder | None = None,
    ) -> None:
        """Combine the taxonomy's rules, a trained model and an optional LLM tier.

        Keyword rules belong to the taxonomy they were written for: they speak only for
        intents the model knows, and not at all for a model trained on another label set (a
        benchmark, another company's taxonomy), even where it shares a name. A 150-intent
        benchmark's ``order_status`` is not our rule's "where is my ..." (its "where is my
        phone" is another intent).
        """
        self.taxonomy = taxonomy
        self.model = model
        self.llm_tier = llm_tier
        self.llm_below = llm_below
        self.embedder = embedder
        known = set(model.meta.labels) if model else set(taxonomy.names)
        ours = known <= set(taxonomy.names)
        self._rule_taxonomy = Taxonomy(
            tuple(i for i in taxonomy.intents if i.name in known) if ours else ()
        )

    def predict_text(self, text: str) -> list[IntentPrediction]:
        """Embed and classify a message (for the command line; the graph embeds once itself)."""
        if self.embedder is None:
            return self.classify(text, None)
        vector, clause_vectors = embed_message(self.embedder, text)
        return self.classify(text, vector, clause_vectors)

    def rule_intents(self, text: str) -> set[str]:
        """The requests keyword rules recognise in the text (small talk is none)."""
        return {hit.intent for hit in match_rules(text, self._rule_taxonomy)} - {UNKNOWN}

    def classify(
        self, text: str, vector: np.ndarray | None, clause_vectors: np.ndarray | None = None
    ) -> list[IntentPrediction]:
        """All intents of the message, the primary one first.

        ``vector`` is the message's embedding by the shared (base) encoder, ``clause_vectors``
        those of its clauses when it has several (``embed_message``; embedded here otherwise).
        """
        started = time.perf_counter()
        rule_hits = match_rules(text, self._rule_taxonomy)
        rules_ms = (time.perf_counter() - started) * 1000
        base = vector
        if self.model is not None:
            vector = self.model.message_vector(text, vector)
        probs = self._model_probabilities(vector)
        if not rule_hits:
            return self._classify_by_model(text, vector, base, probs, started, clause_vectors)
        if any(hit.intent == UNKNOWN for hit in rule_hits):
            # Small talk rules match whole messages ("ok thanks", "hi there"): nothing else is
            # asked, whatever the model makes of it ("ok thanks" reads as a question to it).
            rule_hits = [hit for hit in rule_hits if hit.intent == UNKNOWN]
            return [self._by_rule(text, rule_hits[0], vector, probs, rules_ms)]
        predictions = [self._by_rule(text, hit, vector, probs, rules_ms) for hit in rule_hits]
        # A decisive rule on a one-request message settles what its words mean: the model's
        # other reading of them is not a second request ("can I cancel my subscription" is
        # about mailings, not also an order to cancel, which the model read at 0.82).
        decided = any(hit.decisive for hit in rule_hits) and len(split_clauses(text)) < 2
        if not decided:
            predictions += self._extra_model_intents(text, vector, probs, predictions, started)
        return self._with_clause_intents(text, predictions, started, clause_vectors)

    def _by_rule(
        self,
        text: str,
        hit: RuleMatch,
        vector: np.ndarray | None,
        probs: dict[str, float],
        rules_ms: float,
    ) -> IntentPrediction:
        sub = self._rule_taxonomy.sub_intent(hit.intent, hit.sub_intent) if hit.decisive else None
        # the model gave the rule's intent less: its reading of the words would mislead a search
        topic = sub.description if sub and probs.get(hit.intent, 0.0) < RULE_CONFIDENCE else None
        return IntentPrediction(
            intent=hit.intent,
            sub_intent=hit.sub_intent or self._sub_intent(text, hit.intent, vector),
            confidence=max(RULE_CONFIDENCE, probs.get(hit.intent, 0.0)),
            classifier_used="rules",
            latency_ms=rules_ms,
            evidence=clause_at(text, hit.position),
            topic=topic,
        )

    def _extra_model_intents(
        self,
        text: str,
        vector: np.ndarray | None,
        probs: dict[str, float],
        found: list[IntentPrediction],
        started: float,
    ) -> list[IntentPrediction]:
        """Intents the rules missed but the model is confident enough about."""
        if self.model is None:
            return []
        known = {p.intent for p in found} | {UNKNOWN}
        latency = (time.perf_counter() - started) * 1000
        return [
            IntentPrediction(
                intent=label,
                sub_intent=self._sub_intent(text, label, vector),
                confidence=p,
                classifier_used="embedding",
                model_version=self.model.version,
                latency_ms=latency,
            )
            for label, p in sorted(probs.items(), key=lambda item: item[1], reverse=True)[:2]
            if label not in known and p >= self.model.meta.secondary_threshold
        ]

    def _model_probabilities(self, vector: np.ndarray | None) -> dict[str, float]:
        if self.model is None or vector is None:
            return {}
        row = self.model.probabilities(vector)[0]
        return dict(zip(self.model.meta.labels, (float(p) for p in row), strict=True))

    def _classify_by_model(
        self,
        text: str,
        vector: np.ndarray | None,
        base: np.ndarray | None,
        probs: dict[str, float],
        started: float,
        clause_vectors: np.ndarray | None,
    ) -> list[IntentPrediction]:
        ranked = sorted(probs.items(), key=lambda item: item[1], reverse=True)
        if not ranked:
            return [self._unknown(0.0, started)]
        (top, p1), p2 = ranked[0], ranked[1][1] if len(ranked) > 1 else 0.0
        assert self.model is not None
        if (p1 < self.llm_below or top == UNKNOWN) and self.llm_tier is not None:
            verdict = self._ask_llm(text, started)
            if verdict is not None:
                return verdict
        if (
            top == UNKNOWN
            or p1 < self.model.meta.unknown_threshold
            or self.model.out_of_scope(base, p1)
        ):
            return [self._unknown(1.0 - p1 if top != UNKNOWN else p1, started)]
        latency = (time.perf_counter() - started) * 1000
        chosen = [(top, p1)] + [
            (label, p)
            for label, p in ranked[1:3]
            if label != UNKNOWN and p >= self.model.meta.secondary_threshold
        ]
        predictions = [
            IntentPrediction(
                intent=label,
                sub_intent=self._sub_intent(text, label, vector),
                confidence=p,
                margin=p1 - p2,
                classifier_used="embedding",
                model_version=self.model.version,
                latency_ms=latency,
            )
            for label, p in chosen
        ]
        return self._with_clause_intents(text, predictions, started, clause_vectors)

    def _with_clause_intents(
        self,
        text: str,
        found: list[IntentPrediction],
        started: float,
        clause_vectors: np.ndarray | None = None,
    ) -> list[IntentPrediction]:
        """The message's intents, with those its clauses find ("..., and can I get a refund?").

        A clause's intent is added when the message's intents lack it, and replaces a weaker
        runner-up of the whole message: the clause says which part of the message asks for
        it ("And what's happening with ORD-1301?"), so the reply acts on the right order.
        """
        by_clause = {p.intent: p for p in self._clause_intents(text, started, clause_vectors)}
        merged = [found[0]] if found else []
        for prediction in found[1:]:
            clause = by_clause.get(prediction.intent)
            weaker = prediction.classifier_used == "embedding" and prediction.evidence is None
            merged.append(
                clause
                if clause is not None and weaker and clause.confidence > prediction.confidence
                else prediction
            )
        known = {prediction.intent for prediction in found} | {UNKNOWN}
        merged += [p for label, p in by_clause.items() if label not in known]
        from_clauses = [p for p in merged if p.evidence is not None]
        if len(from_clauses) < 2 or not found or found[0].confidence >= UNSURE_WHOLE_MESSAGE:
            return merged
        return sorted(from_clauses, key=lambda p: p.confidence, reverse=True)

    def _clause_intents(
        self, text: str, started: float, clause_vectors: np.ndarray | None
    ) -> list[IntentPrediction]:
        """The intent of each clause of a several-request message, classified on its own.

        The whole message's embedding is dominated by its longest request. A clause's top
        intent joins when its calibrated probability reaches the fitted ``clause_threshold``.
        """
        model = self.model
        threshold = model.meta.clause_threshold if model else None
        clauses = split_clauses(text)
        if model is None or threshold is None or len(clauses) < 2:
            return []
        base = (
            clause_vectors
            if clause_vectors is not None and len(clause_vectors) == len(clauses)
            else (self.embedder.embed(clauses) if self.embedder else None)
        )
        vectors = model.features(clauses, base)
        if vectors is None:
            return []
        probabilities = model.probabilities(vectors)
        scope = model.scope_score(base if base is not None else vectors, probabilities.max(axis=1))
        in_scope = scope >= model.meta.scope_threshold
        best: dict[str, tuple[float, int]] = {}  # intent -> (probability, clause index)
        for index, row in enumerate(probabilities):
            label, p = model.meta.labels[int(row.argmax())], float(row.max())
            if in_scope[index] and p >= threshold and p > best.get(label, (0.0, 0))[0]:
                best[label] = (p, index)
        latency = (time.perf_counter() - started) * 1000
        return [
            IntentPrediction(
                intent=label,
                sub_intent=self._sub_intent(clauses[index], label, vectors[index]),
                confidence=p,
                classifier_used="embedding",
                model_version=model.version,
                latency_ms=latency,
                evidence=clauses[index],
            )
            for label, (p, index) in best.items()
            if label != UNKNOWN
        ]

    def _ask_llm(self, text: str, started: float) -> list[IntentPrediction] | None:
        assert self.llm_tier is not None
        verdict = self.llm_tier(text, self.taxonomy.names)
        if verdict is None:
            return None
        latency = (time.perf_counter() - started) * 1000
        known = set(self.taxonomy.names)
        predictions = [
            IntentPrediction(
                intent=intent,
                sub_intent=sub_intent,
                confidence=max(0.0, min(1.0, confidence)),
                classifier_used="llm",
                latency_ms=latency,
            )
            for intent, sub_intent, confidence in verdict.intents
            if intent in known
        ]
        return predictions or None

    def _unknown(self, confidence: float, started: float) -> IntentPrediction:
        return IntentPrediction(
            intent=UNKNOWN,
            confidence=confidence,
            classifier_used="embedding" if self.model else "fallback",
            model_version=self.model.version if self.model else None,
            latency_ms=(time.perf_counter() - started) * 1000,
        )

    def _sub_intent(self, text: str, intent_name: str, vector: np.ndarray | None) -> str | None:
        intent = self._rule_taxonomy.get(intent_name)
        by_rule = sub_intent_for(text, intent) if intent else None
        if by_rule or self.model is None or vector is None:
            return by_rule
        return self.model.sub_intent(vector, intent_name)
