"""The LLM tier of the cascade: structured output, validated, and never trusted blindly."""

from __future__ import annotations

import logging

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field, ValidationError

from prompts import classify as prompt
from supportgraph.intents.classifier import LlmTier, LlmVerdict
from supportgraph.intents.taxonomy import Taxonomy
from supportgraph.llm_guard import LlmGuard, LlmUnavailable

log = logging.getLogger(__name__)
MAX_INTENTS = 3


class IntentChoice(BaseModel):
    """One intent the model found."""

    intent: str = Field(description="an intent name from the list")
    sub_intent: str | None = Field(default=None, description="a sub-intent name, if any")
    confidence: float = Field(ge=0.0, le=1.0)


class IntentVerdict(BaseModel):
    """The model's answer: the message's intents, main one first."""

    intents: list[IntentChoice] = Field(min_length=1, max_length=MAX_INTENTS)


def _intent_lines(taxonomy: Taxonomy) -> str:
    lines = []
    for intent in taxonomy.intents:
        subs = ", ".join(sub.name for sub in intent.sub_intents)
        line = f"- {intent.name}: {intent.description}" + (
            f" (sub-intents: {subs})" if subs else ""
        )
        if intent.examples:
            line += " Examples: " + " | ".join(intent.examples[:2])
        lines.append(line)
    return "\n".join(lines)


def make_llm_tier(
    chat_model: BaseChatModel, taxonomy: Taxonomy, *, guard: LlmGuard | None = None
) -> LlmTier:
    """A tier that asks the model and returns only intents and sub-intents the taxonomy has.

    Any failure (timeout, refusal, malformed output, unknown labels, an open breaker) returns
    None, and the cascade falls back to the embedding tier's answer or 'unknown'. With a
    ``guard`` the call keeps to the turn's deadline, retries and circuit breaker.
    """
    structured = chat_model.with_structured_output(IntentVerdict)
    system = prompt.SYSTEM.format(intents=_intent_lines(taxonomy))

    def tier(text: str, names: list[str]) -> LlmVerdict | None:
        try:
            messages = [SystemMessage(system), HumanMessage(prompt.USER.format(message=text))]
            raw = guard.invoke(structured, messages) if guard else structured.invoke(messages)
            verdict = raw if isinstance(raw, IntentVerdict) else IntentVerdict.model_validate(raw)
        except LlmUnavailable as exc:
            log.info("LLM intent tier skipped: %s", exc)
            return None
        except (ValidationError, ValueError, TypeError) as exc:
            log.warning("LLM intent tier gave unusable output: %s", exc)
            return None
        except Exception as exc:  # any provider error means: fall back
            log.warning("LLM intent tier failed: %s", exc)
            return None
        valid = []
        for choice in verdict.intents:
            intent = taxonomy.get(choice.intent)
            if intent is None or choice.intent not in names:
                continue
            subs = {sub.name for sub in intent.sub_intents}
            sub_intent = choice.sub_intent if choice.sub_intent in subs else None
            valid.append((choice.intent, sub_intent, choice.confidence))
        return LlmVerdict(valid) if valid else None

    return tier
