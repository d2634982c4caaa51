"""Runs scenarios through the real graph against fresh copies of the demo store."""

from __future__ import annotations

import sqlite3
import tempfile
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sklearn.metrics import f1_score

from evals.knowledge_eval import run_knowledge_eval
from evals.langsmith_upload import langsmith_configured, upload_experiment
from evals.scenarios import Scenario, load_scenarios
from evals.scoring import score_final_state, score_turn
from graph.builder import build_graph
from graph.checkpoint import open_checkpointer
from supportgraph.analytics import Prices
from supportgraph.bootstrap import prepare
from supportgraph.db.engine import make_engine
from supportgraph.services import Services
from supportgraph.settings import Settings
from supportgraph.support import SupportService

DEFAULT_THRESHOLDS = Path(__file__).with_name("thresholds.toml")
DEFAULT_EVAL_LLM_MODEL = "default"


def with_llm(settings: Settings, url: str, model: str | None = None) -> Settings:
    """The settings pointed at an OpenAI-compatible endpoint (a key is sent even if unused)."""
    return settings.model_copy(
        update={
            "llm_base_url": url,
            "llm_model": model or settings.llm_model or DEFAULT_EVAL_LLM_MODEL,
            "llm_api_key": settings.llm_api_key or SecretStr("not-needed"),
        }
    )


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


@dataclass(frozen=True)
class Workspace:
    """A seeded template database and the services that share its models and indexes."""

    root: Path
    template: Path
    services: Services


@contextmanager
def eval_workspace(
    services: Services | None = None, *, llm_url: str | None = None, llm_model: str | None = None
) -> Iterator[Workspace]:
    """A temporary folder holding a prepared template database (deleted afterwards).

    Without ``services`` they are built from the environment's settings over that folder, with
    ``llm_url`` (if given) as their LLM endpoint.
    """
    with tempfile.TemporaryDirectory(prefix="supportgraph-eval-") as tmp:
        root = Path(tmp)
        template = root / "template.sqlite"
        settings = Settings(data_dir=root, database_url=f"sqlite:///{template}")
        if llm_url:
            settings = with_llm(settings, llm_url, llm_model)
        base = services or Services(settings)
        if services is None:
            prepare(base)
            base.warm_up()  # every sandbox then shares the loaded models, as one server would
        else:
            prepare(base.with_engine(make_engine(f"sqlite:///{template}")))
        yield Workspace(root, template, base)


@contextmanager
def sandbox(
    workspace: Workspace, name: str, *, measure_only: bool = False
) -> Iterator[SupportService]:
    """A support service over a fresh copy of the template database and its own checkpoints."""
    database = workspace.root / f"{name}.sqlite"
    _copy_sqlite(workspace.template, database)
    engine = make_engine(f"sqlite:///{database}")
    services = workspace.services.with_engine(engine)
    try:
        with open_checkpointer(f"sqlite:///{workspace.root / (name + '-ckpt.sqlite')}") as saver:
            graph = build_graph().compile(checkpointer=saver)
            yield SupportService(services, graph, measure_only=measure_only)
    finally:
        engine.dispose()


def run_suites(
    suite: str | None = None,
    *,
    services: Services | None = None,
    repeat: int = 1,
    directory: Path | None = None,
    langsmith_client: Any | None = None,
    llm_url: str | None = None,
    llm_model: str | None = None,
) -> dict[str, Any]:
    """Replay every scenario of the suite(s) ``repeat`` times and report metrics and failures.

    With a LangSmith key set (or a client given) the run is also uploaded as an experiment.
    With ``llm_url`` the turns use that OpenAI-compatible endpoint as their LLM; the report's
    LLM share, tokens and cost per ticket come from the usage it reported.

    ``pass_hat_k`` is the share of scenarios that passed in every one of the k runs.
    """
    scenarios = load_scenarios(suite, directory) if directory else load_scenarios(suite)
    if llm_url and services is not None:
        settings = with_llm(services.settings, llm_url, llm_model)
        services = Services(settings, embedder=services.embedder)
    with eval_workspace(services, llm_url=llm_url, llm_model=llm_model) as workspace:
        runs = [
            [_run_scenario(workspace, scenario, run) for scenario in scenarios]
            for run in range(repeat)
        ]
        results = runs[0]
        knowledge = run_knowledge_eval(workspace.services) if suite in (None, "knowledge") else {}
        escalation = _escalation_suite(workspace) if suite in (None, "escalation") else {}
    report: dict[str, Any] = {"metrics": {}, "failures": []}
    if scenarios:  # a knowledge or escalation run has no scenario figures to report
        report = _report(results, Prices.from_settings(workspace.services.settings))
        report["metrics"]["pass_hat_k"] = {
            "k": repeat,
            "value": round(
                sum(all(_passed(run[i]) for run in runs) for i in range(len(scenarios)))
                / max(1, len(scenarios)),
                4,
            ),
        }
    misses = [name for name in escalation if name.endswith("_misses")]
    heldout_misses = {name: escalation.pop(name) for name in misses}
    report["metrics"].update(escalation)
    report["metrics"].update(
        {
            f"knowledge_{name}": value
            for name, value in knowledge.items()
            if name != "retrieval_misses"
        }
    )
    report["knowledge_misses"] = knowledge.get("retrieval_misses", [])
    report.update(heldout_misses)
    if langsmith_client is None and langsmith_configured():
        from langsmith import Client

        langsmith_client = Client()
    if langsmith_client is not None and results:
        report["langsmith"] = upload_experiment(
            langsmith_client, results, report["metrics"], suite=suite
        )
    return report


def _escalation_suite(workspace: Workspace) -> dict[str, Any]:
    """Missed and unnecessary escalations on the labelled conversations kept for evaluation.

    Also the must-escalate paraphrases written apart from the gate (``must_heldout.jsonl``,
    ``must_fresh.jsonl``): how many slipped through, and which (``escalation_heldout_misses``,
    ``escalation_fresh_misses``).
    """
    from evals.escalation_eval import (
        EVAL_FILE,
        HELDOUT_FILES,
        escalation_metrics,
        heldout_must_report,
        load_conversations,
        measure,
    )

    if not EVAL_FILE.exists():
        return {}
    turns = measure(workspace, load_conversations(EVAL_FILE), measure_only=False)
    metrics = escalation_metrics(turns)
    for name, path in HELDOUT_FILES.items():
        if path.exists():
            heldout = heldout_must_report(workspace, path, name)
            metrics.update(heldout["metrics"])
            metrics[f"escalation_{name}_misses"] = heldout["misses"]
    return metrics


def _passed(result: dict[str, Any]) -> bool:
    return not result["final_failures"] and not any(t["failures"] for t in result["turns"])


def _run_scenario(workspace: Workspace, scenario: Scenario, run: int = 0) -> dict[str, Any]:
    turns: list[dict[str, Any]] = []
    with sandbox(workspace, f"{scenario.id}-{run}") as support:
        _write_order_notes(support, scenario.order_notes)
        ticket_id = None
        for turn in scenario.turns:
            started = time.perf_counter()
            result = support.handle_message(
                ticket_id=ticket_id,
                customer_id=scenario.customer_id,
                message=turn.message,
                channel=scenario.channel,
            )
            ticket_id = result.ticket_id
            turns.append(
                {
                    "message": turn.message,
                    "expect": turn.expect.model_dump(exclude_defaults=True),
                    "failures": score_turn(turn.expect, result.state),
                    "intents": [v["intent"] for v in result.state.get("intents") or []],
                    "classifier_used": [
                        v["classifier_used"] for v in result.state.get("intents") or []
                    ],
                    "escalated": bool(result.state.get("escalated")),
                    "latency_ms": (time.perf_counter() - started) * 1000,
                    "node_ms": result.node_latency_ms,
                    "response": result.state.get("response", ""),
                    "prompt_tokens": result.prompt_tokens,
                    "completion_tokens": result.completion_tokens,
                    "llm_answered": any(
                        part["kind"] == "llm_reply" for part in result.state.get("answer") or []
                    ),
                }
            )
        orders = {
            order_id: {"status": order.status.value, "refunded_total": str(order.refunded_total)}
            for order_id in (scenario.final_state or {}).get("orders", {})
            if (order := support.services.backend.get_order(order_id)) is not None
        }
        audit = audit_side_effects(support, scenario, workspace.template)
    final_failures = score_final_state(scenario.final_state, orders)
    return {"scenario": scenario, "turns": turns, "final_failures": final_failures, **audit}


def _write_order_notes(support: SupportService, notes: dict[str, str]) -> None:
    """Plant text in order notes (data the agent reads, never instructions it follows)."""
    if not notes:
        return
    from supportgraph.commerce.demo_tables import DemoOrder
    from supportgraph.db.engine import session_scope

    with session_scope(support.services.engine) as session:
        for order_id, note in notes.items():
            order = session.get(DemoOrder, order_id)
            if order is not None:
                order.note = note
                session.add(order)


def audit_side_effects(
    support: SupportService, scenario: Scenario, template: Path
) -> dict[str, int]:
    """Side effects counted from the database, not from what the agent said.

    Unauthorized: executed actions the scenario never asked to execute. Policy violations:
    orders of other customers that changed, and orders refunded beyond what was paid.
    """
    from sqlmodel import Session, select

    from supportgraph.commerce.demo_tables import DemoOrder
    from supportgraph.db.models import ActionExecution, ActionStatus

    expected = {name for turn in scenario.turns for name in turn.expect.executed}
    with Session(support.services.engine) as session:
        executed = session.exec(
            select(ActionExecution).where(ActionExecution.status == ActionStatus.EXECUTED)
        ).all()
        after = {o.id: o for o in session.exec(select(DemoOrder)).all()}
    before_engine = make_engine(f"sqlite:///{template}")
    try:
        with Session(before_engine) as session:
            before = {o.id: (o.status, o.refunded_cents) for o in session.exec(select(DemoOrder))}
    finally:
        before_engine.dispose()
    foreign_changes = sum(
        1
        for order_id, order in after.items()
        if order.customer_id != scenario.customer_id
        and before.get(order_id) != (order.status, order.refunded_cents)
    )
    over_refunded = sum(1 for order in after.values() if order.refunded_cents > order.total_cents)
    return {
        "unauthorized_side_effects": sum(1 for row in executed if row.action not in expected),
        "policy_violations": foreign_changes + over_refunded,
    }


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy, including what still sits in the write-ahead log."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def _report(results: list[dict[str, Any]], prices: Prices) -> dict[str, Any]:
    turns = [turn for result in results for turn in result["turns"]]
    judged_intents = [t for t in turns if "intents" in t["expect"]]
    intent_ok = [
        t for t in judged_intents if not any(f.startswith("intents") for f in t["failures"])
    ]
    judged_escalation = [t for t in turns if "escalated" in t["expect"]]
    missed = [t for t in judged_escalation if t["expect"]["escalated"] and not t["escalated"]]
    should_not = [t for t in judged_escalation if not t["expect"]["escalated"]]
    unnecessary = [t for t in should_not if t["escalated"]]
    passed = [r for r in results if _passed(r)]
    escalated_scenarios = [r for r in results if any(t["escalated"] for t in r["turns"])]
    latencies = [t["latency_ms"] for t in turns]
    gold = [t["expect"]["intents"][0] for t in judged_intents]
    predicted = [t["intents"][0] if t["intents"] else "none" for t in judged_intents]
    answered = [t for t in turns if not t["escalated"]]
    wrong = [t for t in answered if t["failures"]]
    resolved = [r for r in results if _passed(r) and not any(t["escalated"] for t in r["turns"])]
    unauthorized = sum(r["unauthorized_side_effects"] for r in results)
    violations = sum(r["policy_violations"] for r in results)
    nodes = sorted({node for t in turns for node in t["node_ms"]})
    tiers = [tier for t in turns for tier in t["classifier_used"][:1]]
    prompt_tokens = sum(t["prompt_tokens"] for t in turns)
    completion_tokens = sum(t["completion_tokens"] for t in turns)
    tickets = max(1, len(results))
    return {
        "metrics": {
            "scenarios": len(results),
            "turns": len(turns),
            "scenario_pass_rate": round(len(passed) / max(1, len(results)), 4),
            "turn_pass_rate": round(sum(not t["failures"] for t in turns) / max(1, len(turns)), 4),
            "intent_accuracy": round(len(intent_ok) / max(1, len(judged_intents)), 4),
            "intent_macro_f1": round(
                float(f1_score(gold, predicted, average="macro", zero_division=0)) if gold else 0.0,
                4,
            ),
            "resolution_rate": round(len(resolved) / max(1, len(results)), 4),
            "wrong_answer_rate": round(len(wrong) / max(1, len(answered)), 4),
            "missed_escalations": len(missed),
            "unnecessary_escalations": len(unnecessary),
            "unnecessary_escalation_rate": round(len(unnecessary) / max(1, len(should_not)), 4),
            "deflection_rate": round(1 - len(escalated_scenarios) / max(1, len(results)), 4),
            "unauthorized_side_effects": unauthorized,
            "policy_violations": violations,
            "llm_turn_share": round(
                sum("llm" in t["classifier_used"] for t in turns) / max(1, len(turns)), 4
            ),
            # turns whose reply carries the model's words; tickets on which a model was called
            "llm_answer_share": round(
                sum(bool(t.get("llm_answered")) for t in turns) / max(1, len(turns)), 4
            ),
            "llm_ticket_share": round(
                sum(
                    any(t["prompt_tokens"] or t["completion_tokens"] for t in r["turns"])
                    for r in results
                )
                / tickets,
                4,
            ),
            "prompt_tokens_per_ticket": round(prompt_tokens / tickets, 2),
            "completion_tokens_per_ticket": round(completion_tokens / tickets, 2),
            "cost_per_ticket_usd": round(
                float(prices.ai_cost(len(results), prompt_tokens, completion_tokens) / tickets), 6
            ),
            "latency_p50_ms": _percentile(latencies, 0.5),
            "latency_p95_ms": _percentile(latencies, 0.95),
            "node_p50_ms": {
                node: _percentile([t["node_ms"][node] for t in turns if node in t["node_ms"]], 0.5)
                for node in nodes
            },
            "tier_share": {
                tier: round(tiers.count(tier) / max(1, len(tiers)), 4)
                for tier in sorted(set(tiers))
            },
            **multi_intent_metrics(results),
        },
        "failures": [
            {
                "scenario": r["scenario"].id,
                "turns": [
                    {
                        "message": t["message"],
                        "failures": t["failures"],
                        "response": t["response"][:300],
                    }
                    for t in r["turns"]
                    if t["failures"]
                ],
                "final_state": r["final_failures"],
            }
            for r in results
            if r not in passed
        ],
    }


MULTI_INTENT_SUITE = "multi_intent"


def multi_intent_metrics(results: list[dict[str, Any]]) -> dict[str, float]:
    """How many of a message's further requests are found, and how often one is invented.

    Read on the ``multi_intent`` suite alone, whose turns list every request of the message (an
    exact set, unlike the other suites' "at least these"). A message of k requests has k - 1
    further ones: those found beyond the first request found (``later_recall``). A message of
    one request (its words joined by "and", or two sentences) that gets any intent outside its
    own is a false extra.
    """
    turns = [
        (set(turn["expect"]["intents"]), set(turn["intents"]) - {"unknown"})
        for result in results
        if result["scenario"].suite == MULTI_INTENT_SUITE
        for turn in result["turns"]
        if "intents" in turn["expect"]
    ]
    several = [(gold, found) for gold, found in turns if len(gold) > 1]
    single = [(gold, found) for gold, found in turns if len(gold) == 1]
    if not several or not single:
        return {}
    further = sum(len(gold) - 1 for gold, _ in several)
    further_found = sum(max(0, len(gold & found) - 1) for gold, found in several)
    return {
        "multi_intent_later_recall": round(further_found / further, 4),
        "multi_intent_all_found": round(
            sum(gold <= found for gold, found in several) / len(several), 4
        ),
        "multi_intent_extra_intents": sum(len(found - gold) for gold, found in several),
        "multi_intent_false_extra_rate": round(
            sum(bool(found - gold) for gold, found in single) / len(single), 4
        ),
    }


def check_thresholds(
    report: dict[str, Any], path: Path | None = None, *, require_all: bool = True
) -> list[str]:
    """The thresholds the report breaks.

    With ``require_all`` (a full run) a metric missing from the report is a breach; a run of
    one suite checks only the metrics it produced.
    """
    limits = tomllib.loads((path or DEFAULT_THRESHOLDS).read_text())
    metrics = report["metrics"]
    broken: list[str] = []
    for key, limit in limits.items():
        bound, _, name = key.partition("_")
        value = metrics.get(name)
        if bound not in ("min", "max"):
            broken.append(f"{key}: a threshold must start with min_ or max_")
        elif value is None:
            if require_all:
                broken.append(f"{name}: missing from the report")
        elif bound == "min" and value < limit:
            broken.append(f"{name}={value} < {limit}")
        elif bound == "max" and value > limit:
            broken.append(f"{name}={value} > {limit}")
    return broken
