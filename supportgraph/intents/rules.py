"""The fast tier: precise keyword rules from the taxonomy (well under a millisecond)."""

from __future__ import annotations

from dataclasses import dataclass

from supportgraph.intents.taxonomy import Intent, Taxonomy


@dataclass(frozen=True)
class RuleMatch:
    """An intent a rule found in the text, with the sub-intent rule that matched, if any."""

    intent: str
    sub_intent: str | None
    position: int
    decisive: bool = False  # a decisive sub-intent rule matched: it settles what the words mean


def match_rules(text: str, taxonomy: Taxonomy) -> list[RuleMatch]:
    """Every intent whose patterns match, in the order they appear in the text."""
    matches: list[RuleMatch] = []
    for intent in taxonomy.intents:
        position = _first_match(text, intent)
        sub_intent = _sub_intent(text, intent)
        if position is None and sub_intent is not None and sub_intent[2]:
            position = sub_intent[1]
        if position is not None:
            matches.append(
                RuleMatch(
                    intent.name,
                    sub_intent[0] if sub_intent else None,
                    position,
                    decisive=bool(sub_intent and sub_intent[2]),
                )
            )
    return sorted(matches, key=lambda match: match.position)


def _first_match(text: str, intent: Intent) -> int | None:
    positions = [m.start() for p in intent.patterns if (m := p.search(text))]
    return min(positions) if positions else None


def _sub_intent(text: str, intent: Intent) -> tuple[str, int, bool] | None:
    for sub in intent.sub_intents:
        for pattern in sub.patterns:
            if match := pattern.search(text):
                return sub.name, match.start(), sub.decisive
    return None


def sub_intent_for(text: str, intent: Intent) -> str | None:
    """The first sub-intent of an intent whose rule matches the text."""
    found = _sub_intent(text, intent)
    return found[0] if found else None
