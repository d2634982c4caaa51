"""Scenario files: typed loading and the expectations a turn is scored against."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SCENARIO_DIR = Path(__file__).parent / "scenarios"


class Expect(BaseModel):
    """What a correct agent must do on one turn (only what is stated is checked)."""

    model_config = ConfigDict(extra="forbid")

    intents: list[str] | None = None
    escalated: bool | None = None
    actions_available: list[str] = Field(default_factory=list)
    actions_absent: list[str] = Field(default_factory=list)
    executed: list[str] = Field(default_factory=list)
    response_contains: list[str] = Field(default_factory=list)
    sources_include: list[str] = Field(default_factory=list)


class Turn(BaseModel):
    """A customer message and its expectations."""

    message: str
    expect: Expect = Field(default_factory=Expect)


class Scenario(BaseModel):
    """A conversation to replay against a fresh copy of the demo store."""

    model_config = ConfigDict(extra="forbid")

    id: str
    customer_id: str
    channel: str = "web_chat"
    tags: list[str] = Field(default_factory=list)
    turns: list[Turn]
    final_state: dict[str, Any] | None = None
    order_notes: dict[str, str] = Field(default_factory=dict)
    suite: str = ""


def load_scenarios(suite: str | None = None, directory: Path = SCENARIO_DIR) -> list[Scenario]:
    """Every scenario of one suite (a file name without .jsonl), or of all suites."""
    files = sorted(directory.glob("*.jsonl"))
    if suite in ("knowledge", "escalation"):
        return []
    if suite:
        files = [path for path in files if path.stem == suite]
        if not files:
            raise FileNotFoundError(f"no scenario suite named {suite!r} in {directory}")
    scenarios: list[Scenario] = []
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if line.strip():
                try:
                    scenario = Scenario.model_validate({**json.loads(line), "suite": path.stem})
                except ValueError as exc:
                    raise ValueError(f"{path.name}:{number}: {exc}") from exc
                scenarios.append(scenario)
    return scenarios
