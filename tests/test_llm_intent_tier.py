"""The LLM tier of the cascade, driven by scripted chat models."""

from __future__ import annotations

import pytest
from fake_models import FailingModel, ToolCallingFake, tool_call

from supportgraph.intents.classifier import IntentClassifier
from supportgraph.intents.llm_tier import make_llm_tier
from supportgraph.intents.taxonomy import load_taxonomy
from supportgraph.services import Services

CLEAR = "where is my order"  # a keyword rule decides this: no LLM needed
VAGUE = "hmm so about the thing from before, it is still not right"


def verdict(*intents: tuple[str, str | None, float]) -> dict:
    return {
        "intents": [
            {"intent": name, "sub_intent": sub, "confidence": confidence}
            for name, sub, confidence in intents
        ]
    }


@pytest.fixture
def cascade(services: Services):
    def build(model) -> IntentClassifier:
        base = services.classifier
        tier = make_llm_tier(model, load_taxonomy())
        return IntentClassifier(
            base.taxonomy, base.model, llm_tier=tier, llm_below=0.99, embedder=base.embedder
        )

    return build


def test_llm_is_not_called_for_confident_messages(cascade) -> None:
    model = ToolCallingFake(responses=[tool_call("IntentVerdict", verdict(("refund", None, 0.9)))])
    predictions = cascade(model).predict_text(CLEAR)
    assert predictions[0].intent == "order_status"
    assert predictions[0].classifier_used == "rules"
    assert model.calls == 0


def test_llm_decides_uncertain_messages_with_validated_output(cascade) -> None:
    model = ToolCallingFake(
        responses=[
            tool_call(
                "IntentVerdict",
                verdict(("complaint", "made_up_sub", 0.8), ("made_up_intent", None, 0.9)),
            )
        ]
    )
    predictions = cascade(model).predict_text(VAGUE)
    assert model.calls == 1
    assert [p.intent for p in predictions] == ["complaint"]  # the invented label is dropped
    assert predictions[0].classifier_used == "llm"
    assert predictions[0].sub_intent is None  # not a complaint sub-intent of the taxonomy
    assert predictions[0].confidence == pytest.approx(0.8)


@pytest.mark.parametrize(
    "model",
    [
        FailingModel(responses=[]),
        ToolCallingFake(responses=[tool_call("IntentVerdict", {"intents": "not a list"})]),
        ToolCallingFake(responses=[tool_call("IntentVerdict", verdict(("weather", None, 0.9)))]),
    ],
    ids=["timeout", "malformed", "unknown-labels"],
)
def test_a_failing_llm_falls_back_to_the_model_or_unknown(cascade, model) -> None:
    gibberish = "qwzx blorp fnord"
    predictions = cascade(model).predict_text(gibberish)
    assert model.calls == 1
    assert predictions[0].intent == "unknown"
    assert predictions[0].classifier_used != "llm"
