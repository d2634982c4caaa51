"""Knowledge gaps: questions nothing answered are stored with the turn and listed in analytics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from supportgraph.db.models import CustomerMessage, KnowledgeGap, SupportTicket, TicketStatus
from supportgraph.knowledge_gaps import gap_list, gaps_of_turn, same_question
from supportgraph.services import Services

PROMO = "promo-codes#how-do-promo-codes-work"
WINDOW = {"start": "2025-05-01T00:00:00Z", "end": "2025-05-08T00:00:00Z"}


def at(dom: int, hour: int = 9) -> datetime:
    return datetime(2025, 5, dom, hour, tzinfo=UTC)


def gap(ticket: str, question: str, when: datetime, nearest: str | None = None) -> KnowledgeGap:
    return KnowledgeGap(
        ticket_id=ticket,
        message_id=f"m-{ticket}",
        intent="faq",
        question=question,
        nearest_source_id=nearest,
        nearest_score=0.41 if nearest else None,
        created_at=when,
    )


def insert_gaps(services: Services, *gaps: KnowledgeGap) -> None:
    with Session(services.engine) as session:
        tickets = sorted({g.ticket_id for g in gaps})
        session.add_all(
            SupportTicket(id=ticket_id, customer_id="cust_gap", status=TicketStatus.RESOLVED,
                          created_at=at(1), updated_at=at(1))
            for ticket_id in tickets
        )  # fmt: skip
        session.flush()
        session.add_all(
            CustomerMessage(id=f"m-{ticket_id}", ticket_id=ticket_id, turn=1, role="customer",
                            content="...", created_at=at(1))
            for ticket_id in tickets
        )  # fmt: skip
        session.flush()
        session.add_all(gaps)
        session.commit()


def test_analytics_lists_the_periods_gaps_most_asked_first(
    client: TestClient, services: Services
) -> None:
    insert_gaps(
        services,
        gap("g1", "Do you have student discounts?", at(2), PROMO),
        gap("g2", "do you have  student discounts", at(4, 15), PROMO),
        gap("g2", "Do you have student discounts?!", at(5), PROMO),
        gap("g3", "Can I pay in Bitcoin?", at(6), "payment-methods#what-can-i-pay-with"),
        gap("g4", "Do you ship to Antarctica?", at(3)),
        gap("g5", "Is the store open on Sundays?", at(9)),  # after the window
        gap("g6", "Do you have student discounts?", at(1, 0) - timedelta(seconds=1)),  # before
    )
    response = client.get("/v1/support/analytics", params=WINDOW)
    assert response.status_code == 200, response.text
    figures = response.json()

    assert figures["knowledge_gap_questions"] == 5
    rows = figures["knowledge_gaps"]
    assert [(r["question"], r["count"], r["tickets"]) for r in rows] == [
        ("Do you have student discounts?!", 3, 2),  # the latest wording of the question
        ("Can I pay in Bitcoin?", 1, 1),
        ("Do you ship to Antarctica?", 1, 1),
    ]
    assert rows[0]["nearest_source_id"] == PROMO
    assert rows[2]["nearest_source_id"] is None
    assert rows[0]["last_asked_at"].startswith("2025-05-05T09:00:00")
    assert rows[0]["intent"] == "faq"


def test_a_period_without_gaps_lists_none(client: TestClient) -> None:
    figures = client.get("/v1/support/analytics", params=WINDOW).json()
    assert figures["knowledge_gap_questions"] == 0 and figures["knowledge_gaps"] == []


def state(answer: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    sources = [
        {"id": "ORD-1", "kind": "order", "score": 0.99},
        {"id": "promo#a", "kind": "article", "score": 0.42},
        {"id": "returns#b", "kind": "article", "score": 0.55},
    ]
    return {"message": "Do you have student discounts? Where is ORD-1?", "sources": sources,
            "answer": answer, **more}  # fmt: skip


def part(intent: str, kind: str) -> dict[str, Any]:
    return {"intent": intent, "kind": kind, "facts": {}, "source_ids": []}


def test_a_turns_gaps_are_its_unanswered_parts_with_their_own_question() -> None:
    answered = state([part("order_status", "order_status"), part("faq", "article")])
    assert gaps_of_turn(answered) == []

    unanswered = state(
        [part("order_status", "order_status"), part("faq", "no_answer")],
        intent_questions={"faq": {"question": "Do you have student discounts?", "hits": []}},
    )
    [found] = gaps_of_turn(unanswered)
    assert found.intent == "faq" and found.question == "Do you have student discounts?"
    assert found.nearest_source_id == "returns#b" and found.nearest_score == 0.55

    whole = state([part("faq", "unanswerable")])
    assert gaps_of_turn(whole)[0].question == whole["message"]
    assert gaps_of_turn(state([part("unknown", "clarify")])) == []


def test_the_same_question_is_counted_once() -> None:
    assert same_question("Do you have  student discounts?!") == same_question(
        "do you have student discounts"
    )
    asked_twice = [gap("a", "Can I pay in Bitcoin", at(2)), gap("b", "can i pay in bitcoin", at(4))]
    rows = gap_list(asked_twice)
    assert [(r["question"], r["count"]) for r in rows] == [("can i pay in bitcoin", 2)]
    assert gap_list([gap(str(i), f"q{i}", at(2)) for i in range(60)], limit=5)[-1]["count"] == 1
    assert len(gap_list([gap(str(i), f"q{i}", at(2)) for i in range(60)], limit=5)) == 5


def test_a_question_nothing_answers_is_stored_and_listed(
    client: TestClient, services: Services
) -> None:
    """Through the real agent: the help centre has nothing on either question."""
    asked = ["Is your company carbon neutral?", "Do you have a loyalty tier for teachers?"]
    for question in [*asked, "Is your company carbon neutral"]:
        reply = client.post(
            "/v1/support/message", json={"customer_id": "cust_101", "message": question}
        )
        assert reply.status_code == 200, reply.text
        assert "I don't have a reliable answer" in reply.json()["response"]
    answered = client.post(
        "/v1/support/message",
        json={"customer_id": "cust_101", "message": "How much does express shipping cost?"},
    )
    assert "$14.99" in answered.json()["response"]

    with Session(services.engine) as session:
        stored = list(session.exec(select(KnowledgeGap)))
        messages = {m.id: m for m in session.exec(select(CustomerMessage))}
    assert sorted(g.question for g in stored) == sorted([*asked, "Is your company carbon neutral"])
    for row in stored:
        assert messages[row.message_id].content == row.question  # the customer's own message
        assert row.intent == "faq" and row.nearest_source_id

    figures = client.get("/v1/support/analytics", params={"period": "1d"}).json()
    assert figures["knowledge_gap_questions"] == 3
    assert [(g["question"], g["count"]) for g in figures["knowledge_gaps"]] == [
        ("Is your company carbon neutral", 2),
        ("Do you have a loyalty tier for teachers?", 1),
    ]
