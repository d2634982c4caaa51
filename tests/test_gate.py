"""The escalation gate: signals, hard rules, the logistic score, and calibration from data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from testkit import DocumentedClient, send
from typer.testing import CliRunner

from policies.gate_model import DEFAULT_GATE_FILE, GateModel, load_gate_model
from server import create_app
from supportgraph import signals
from supportgraph.calibration import choose_threshold, fit_gate, trade_off_curve
from supportgraph.cli import app
from supportgraph.db.models import EscalationDecision
from supportgraph.services import Services


@pytest.mark.parametrize(
    ("text", "shouting", "profanity", "distress", "legal"),
    [
        ("where is my order?", 0.0, 0.0, False, False),
        ("WHERE IS MY ORDER, THIS IS RIDICULOUS", 1.0, 1.0, False, False),
        ("wtf is going on with my refund", 0.0, 1.0, False, False),
        ("honestly I don't see the point of anything anymore", 0.0, 0.0, True, False),
        ("I've been having thoughts of hurting myself", 0.0, 0.0, True, False),
        ("my lawyer will be in touch", 0.0, 0.0, False, True),
        ("Hello, can you help me?", 0.0, 0.0, False, False),
    ],
)
def test_text_signals(
    text: str, shouting: float, profanity: float, distress: bool, legal: bool
) -> None:
    assert signals.caps_ratio(text) == pytest.approx(shouting, abs=0.05)
    assert signals.profanity(text) == profanity
    assert signals.distress(text) is distress
    assert signals.legal_threat(text) is legal


@pytest.mark.parametrize(
    ("text", "complains", "closing"),
    [
        ("This is my fifth chat about the same refund.", 1.0, 0.0),
        ("third time I'm asking: where is it", 1.0, 0.0),
        ("I have contacted support three times already", 1.0, 0.0),
        ("that's not what I asked. Amex or PayPal?", 1.0, 0.0),
        ("same robotic reply again. This is a joke.", 1.0, 0.0),
        ("this is the second time I order from you, love it", 0.0, 0.0),
        ("I don't understand the invoice", 0.0, 0.0),
        ("perfect, thanks!", 0.0, 1.0),
        ("ok good", 0.0, 1.0),
        ("I want a refund, thanks", 0.0, 0.0),
        ("thanks but it still does not work", 0.0, 0.0),
        ("thanks for nothing, useless bot", 1.0, 0.0),
    ],
)
def test_complaint_and_closing_signals(text: str, complains: float, closing: float) -> None:
    assert signals.complains_about_agent(text) == complains
    assert signals.acknowledgement(text) == closing


def test_a_suspected_request_for_a_person_does_not_trigger_a_hard_rule() -> None:
    from nodes.gate import _settled_intents

    def view(intent: str, tier: str, confidence: float = 0.9) -> dict[str, object]:
        return {
            "intent": intent,
            "sub_intent": None,
            "classifier_used": tier,
            "confidence": confidence,
        }

    state = {
        "intents": [
            view("refund", "embedding"),
            view("human_agent", "embedding"),
            view("billing", "rules"),
        ]
    }
    settled = _settled_intents(state)  # type: ignore[arg-type]
    assert [v["intent"] for v in settled] == ["refund", "billing"]
    state["intents"][1]["intent"] = "account_update"
    assert len(_settled_intents(state)) == 3  # type: ignore[arg-type]


def test_a_faint_second_intent_does_not_trigger_a_hard_rule() -> None:
    """A dispute the model gives 9% beside a clear refund request is not a dispute."""
    from nodes.gate import _settled_intents
    from nodes.resolve import SUSPECTED

    def view(intent: str, confidence: float, tier: str = "embedding") -> dict[str, object]:
        return {
            "intent": intent,
            "sub_intent": "dispute",
            "classifier_used": tier,
            "confidence": confidence,
        }

    faint = {"intents": [view("refund", 0.95, "rules"), view("billing", 0.09)]}
    assert [v["intent"] for v in _settled_intents(faint)] == ["refund"]  # type: ignore[arg-type]
    likely = {"intents": [view("refund", 0.95, "rules"), view("billing", SUSPECTED)]}
    assert len(_settled_intents(likely)) == 2  # type: ignore[arg-type]
    alone = {"intents": [view("billing", 0.09)]}
    assert len(_settled_intents(alone)) == 1  # type: ignore[arg-type]


def test_a_faint_second_intent_needing_a_person_hands_nothing_over(services: Services) -> None:
    """ "How do I turn on 2FA?" read 5% as account recovery: its reset needs a person."""
    from nodes.gate import _hard_rule

    def view(intent: str, sub_intent: str | None, confidence: float) -> dict[str, object]:
        return {
            "intent": intent,
            "sub_intent": sub_intent,
            "classifier_used": "embedding",
            "confidence": confidence,
        }

    needs_person = {
        "intent": "password_reset",
        "kind": "needs_human",
        "facts": {"reason": "verify", "rule_id": "account.recovery.human"},
        "source_ids": [],
    }
    state = {
        "message": "How do I turn on two-factor authentication?",
        "turn": 1,
        "intents": [
            view("faq", "security", 0.93),
            view("password_reset", "account_recovery", 0.05),
        ],
        "answer": [needs_person],
    }
    assert _hard_rule(state, services) is None  # type: ignore[arg-type]
    state["intents"][1]["confidence"] = 0.6  # type: ignore[index]
    assert _hard_rule(state, services) is not None  # type: ignore[arg-type]


def test_sentiment_orders_messages_sensibly() -> None:
    happy = signals.sentiment("thanks so much, that was really helpful")
    neutral = signals.sentiment("where is my order?")
    angry = signals.sentiment("this is ridiculous and useless, I am furious")
    assert happy > neutral > angry


def test_gate_model_score_and_round_trip(tmp_path: Path) -> None:
    model = GateModel(weights={"a": 2.0, "b": -1.0}, bias=-1.0, threshold=0.5, source="test")
    low, _ = model.score({"a": 0.0, "b": 1.0})
    high, contributions = model.score({"a": 1.0, "b": 0.0})
    assert low < 0.5 < high
    assert contributions == {"a": 2.0, "b": -0.0}
    path = tmp_path / "gate.json"
    path.write_text(model.to_json())
    assert load_gate_model(path) == model
    priors = load_gate_model(DEFAULT_GATE_FILE)
    assert priors.source.startswith("priors") and "repeated_message" in priors.weights


def test_fit_gate_meets_the_stated_target() -> None:
    rng = np.random.default_rng(7)
    rows, labels = [], []
    for _ in range(300):
        angry = bool(rng.random() < 0.3)
        rows.append(
            {"anger": float(rng.normal(0.8 if angry else 0.2, 0.15)), "noise": float(rng.random())}
        )
        labels.append(angry)
    model, _ = fit_gate(rows, labels, names=["anger", "noise"], target_missed=0.01)
    assert model.weights["anger"] > abs(model.weights["noise"])
    assert model.metrics["missed_rate"] <= 0.01
    strict, _ = fit_gate(rows, labels, names=["anger", "noise"], max_unnecessary=0.05)
    assert strict.metrics["unnecessary_rate"] <= 0.05
    assert strict.threshold >= model.threshold


def test_choose_threshold_picks_the_edge_of_the_target() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.9])
    labels = np.array([0, 0, 1, 0, 1, 1])
    curve = trade_off_curve(scores, labels)
    no_miss = choose_threshold(curve, target_missed=0.0, max_unnecessary=None)
    assert no_miss.threshold == pytest.approx(0.3) and no_miss.missed_rate == 0.0
    no_waste = choose_threshold(curve, target_missed=None, max_unnecessary=0.0)
    assert no_waste.threshold == pytest.approx(0.7) and no_waste.unnecessary_rate == 0.0


@pytest.mark.parametrize(
    ("message", "rule"),
    [
        (
            "I really can't take this anymore, I just want it all to stop",
            "escalate.always.distress",
        ),
        (
            "If this isn't fixed today I'm taking you to small claims court",
            "escalate.always.legal_threat",
        ),
        ("I want to talk to a human", "escalate.always.human_agent"),
    ],
)
def test_hard_rules_escalate_whatever_the_score(
    client: TestClient, message: str, rule: str
) -> None:
    reply = send(client, message, customer_id="cust_101")
    assert reply["escalated"] is True
    ticket = client.get(f"/v1/support/tickets/{reply['ticket_id']}").json()
    decision = ticket["escalation_decisions"][-1]
    assert decision["rule_id"] == rule
    assert set(decision["signals"]) >= {"negative_sentiment", "repeated_message", "profanity"}
    assert all({"value", "contribution"} <= set(v) for v in decision["signals"].values())


def test_calibrate_refits_and_the_server_uses_the_fitted_values(
    tmp_path: Path, services_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversations = [
        {
            "id": "calm-1",
            "customer_id": "cust_101",
            "turns": [{"message": "where is my order?", "escalate": False}],
        },
        {
            "id": "calm-2",
            "customer_id": "cust_102",
            "turns": [{"message": "how long does standard shipping take?", "escalate": False}],
        },
        {
            "id": "calm-3",
            "customer_id": "cust_456",
            "turns": [{"message": "thanks, that's all", "escalate": False}],
        },
        {
            "id": "angry-1",
            "customer_id": "cust_101",
            "turns": [
                {"message": "where is my order?", "escalate": False},
                {
                    "message": "WHERE IS MY ORDER?? this is useless, same answer again",
                    "escalate": True,
                },
            ],
        },
        {
            "id": "angry-2",
            "customer_id": "cust_102",
            "turns": [
                {
                    "message": "this damn speaker is crap, you're not helping at all!!!",
                    "escalate": True,
                }
            ],
        },
    ]
    data = tmp_path / "labelled.jsonl"
    data.write_text("\n".join(json.dumps(c) for c in conversations))
    services = services_factory()
    for name, value in {
        "SUPPORTGRAPH_DATA_DIR": str(services.settings.data_dir),
        "SUPPORTGRAPH_CHROMA_PATH": str(services.settings.resolved_chroma_path),
    }.items():
        monkeypatch.setenv(name, value)
    from supportgraph.settings import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(
        app, ["escalation", "calibrate", "--data", str(data), "--max-unnecessary", "0.0"]
    )
    assert result.exit_code == 0, result.output
    fitted_path = services.settings.data_dir / "escalation" / "gate.json"
    fitted = load_gate_model(fitted_path)
    assert fitted.source.startswith("calibrated")
    assert fitted.metrics["turns"] == 6 and fitted.metrics["positives"] == 2

    fresh = services_factory()
    assert fresh.gate_model == fitted
    with DocumentedClient(create_app(services=fresh)) as client:
        send(client, "where is my order?", customer_id="cust_105")
    with Session(fresh.engine) as session:
        decision = session.exec(select(EscalationDecision)).all()[-1]
    assert decision.threshold == fitted.threshold
