"""An eval run as a LangSmith experiment: the scenarios as a dataset, each replay as a run.

The dataset is created once per suite and reused, so experiments of successive commits sit
side by side in LangSmith; every run carries its scenario's verdict as feedback.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from evals.scenarios import Scenario


def langsmith_configured() -> bool:
    """Whether a LangSmith key is set in the environment."""
    return bool(os.environ.get("LANGSMITH_API_KEY") or os.environ.get("LANGCHAIN_API_KEY"))


def _inputs(scenario: Scenario) -> dict[str, Any]:
    return {"customer_id": scenario.customer_id, "messages": [t.message for t in scenario.turns]}


def _example_ids(client: Any, dataset_id: Any) -> dict[Any, Any]:
    """The dataset's examples by scenario id."""
    return {
        (example.metadata or {}).get("scenario"): example.id
        for example in client.list_examples(dataset_id=dataset_id)
    }


def scenario_example(scenario: Scenario) -> dict[str, Any]:
    """A scenario as a dataset example: the customer's turns in, the expectations out."""
    return {
        "inputs": _inputs(scenario),
        "outputs": {
            "expect": [turn.expect.model_dump(exclude_defaults=True) for turn in scenario.turns],
            "final_state": scenario.final_state,
        },
        "metadata": {"scenario": scenario.id, "suite": scenario.suite, "tags": scenario.tags},
    }


def upload_experiment(
    client: Any,
    results: Sequence[dict[str, Any]],
    metrics: dict[str, Any],
    *,
    suite: str | None,
    experiment: str | None = None,
) -> dict[str, Any]:
    """Create (or reuse) the suite's dataset and record one run per scenario with feedback.

    ``client`` is a ``langsmith.Client``.
    """
    dataset_name = f"supportgraph-eval-{suite or 'all'}"
    if client.has_dataset(dataset_name=dataset_name):
        dataset = client.read_dataset(dataset_name=dataset_name)
    else:
        dataset = client.create_dataset(
            dataset_name, description="supportgraph eval scenarios (evals/scenarios)"
        )
    known = _example_ids(client, dataset.id)
    missing = [r["scenario"] for r in results if r["scenario"].id not in known]
    if missing:
        client.create_examples(
            dataset_id=dataset.id, examples=[scenario_example(s) for s in missing]
        )
        known = _example_ids(client, dataset.id)
    name = experiment or f"supportgraph-{suite or 'all'}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    client.create_project(name, reference_dataset_id=dataset.id, metadata={"metrics": metrics})
    for result in results:
        scenario: Scenario = result["scenario"]
        run_id = uuid.uuid4()
        turns = result["turns"]
        client.create_run(
            "supportgraph-turns",
            _inputs(scenario),
            "chain",
            id=run_id,
            project_name=name,
            reference_example_id=known.get(scenario.id),
            outputs={
                "responses": [turn["response"] for turn in turns],
                "intents": [turn["intents"] for turn in turns],
                "escalated": [turn["escalated"] for turn in turns],
            },
            extra={"metadata": {"scenario": scenario.id}},
        )
        passed = not result["final_failures"] and not any(turn["failures"] for turn in turns)
        client.create_feedback(run_id, "passed", score=float(passed))
        client.create_feedback(
            run_id,
            "unauthorized_side_effects",
            score=float(result["unauthorized_side_effects"]),
        )
    return {"experiment": name, "dataset": dataset_name, "runs": len(results)}
