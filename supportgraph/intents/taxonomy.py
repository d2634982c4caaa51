"""The intent taxonomy, loaded from the TOML file a company edits."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_TAXONOMY = DATA_DIR / "taxonomy.toml"
UNKNOWN = "unknown"
# Sub-intents of `unknown` that are a whole message of greetings or of thanks and goodbyes.
SMALL_TALK = frozenset({"greeting", "closing"})


@dataclass(frozen=True)
class SubIntent:
    """A refinement of an intent, with its own rules."""

    name: str
    description: str
    patterns: tuple[re.Pattern[str], ...]
    decisive: bool = False
    always_escalate: bool = False


@dataclass(frozen=True)
class Intent:
    """One intent of the taxonomy."""

    name: str
    description: str
    requires_action: bool
    patterns: tuple[re.Pattern[str], ...]
    sub_intents: tuple[SubIntent, ...]
    always_escalate: bool = False
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    """Every intent the agent knows."""

    intents: tuple[Intent, ...]

    @property
    def names(self) -> list[str]:
        """Intent names in file order."""
        return [intent.name for intent in self.intents]

    @property
    def always_escalate(self) -> frozenset[str]:
        """``intent`` and ``intent:sub_intent`` keys flagged to always go to a person."""
        keys = {i.name for i in self.intents if i.always_escalate}
        keys |= {
            f"{i.name}:{s.name}" for i in self.intents for s in i.sub_intents if s.always_escalate
        }
        return frozenset(keys)

    def get(self, name: str) -> Intent | None:
        """The intent of that name, if any."""
        return next((intent for intent in self.intents if intent.name == name), None)

    def sub_intent(self, intent: str, name: str | None) -> SubIntent | None:
        """The sub-intent of that intent and name, if any."""
        found = self.get(intent)
        return next((s for s in found.sub_intents if s.name == name), None) if found else None


def _compile(patterns: list[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern, re.IGNORECASE) for pattern in patterns)


@lru_cache(maxsize=4)
def load_taxonomy(path: Path = DEFAULT_TAXONOMY) -> Taxonomy:
    """Read and compile a taxonomy file."""
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    intents = tuple(
        Intent(
            name=entry["name"],
            description=entry["description"],
            requires_action=bool(entry.get("requires_action", False)),
            patterns=_compile(entry.get("patterns", [])),
            sub_intents=tuple(
                SubIntent(
                    sub["name"],
                    sub["description"],
                    _compile(sub.get("patterns", [])),
                    bool(sub.get("decisive", False)),
                    bool(sub.get("always_escalate", False)),
                )
                for sub in entry.get("sub_intent", [])
            ),
            always_escalate=bool(entry.get("always_escalate", False)),
            examples=tuple(entry.get("examples", [])),
        )
        for entry in raw["intent"]
    )
    if UNKNOWN not in {intent.name for intent in intents}:
        raise ValueError(f"the taxonomy must define the '{UNKNOWN}' intent")
    return Taxonomy(intents)
