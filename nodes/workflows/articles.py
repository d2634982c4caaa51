"""Answers from the help centre: the question an intent asks, and the sentences that answer it."""

from __future__ import annotations

from graph.state import AnswerPart, IntentView, TicketState, asked_question
from supportgraph import text as text_tools
from supportgraph.db.models import ActionExecution
from supportgraph.knowledge.answer import extractive_answer
from tools.context import ToolContext

# Complaints about what arrived (damaged, defective, wrong): the help centre says what happens
# next. A late delivery's remedy is in its order, which the complaint names no better.
COMPLAINTS_WITH_A_REMEDY = frozenset({"product"})


# Handlers that never answer from articles: retrieve makes no search of their own for them.
NEVER_FROM_ARTICLES = frozenset({"cancel_order", "human_agent", "unknown"})


def may_answer_from_articles(view: IntentView, asked: str) -> bool:
    """Whether an intent's handler may answer ``asked`` from articles.

    A refund does only when asked about, not asked for (see ``order_action``): "how long until
    my refund shows up?", "how do I start a return?", "do you refund the difference?". An
    order's status does when the message describes a problem with it ("it says delivered"), a
    password reset when the link is in trouble ("it expired"), a complaint about an item.
    """
    if view["intent"] in NEVER_FROM_ARTICLES:
        return False
    if view["intent"] == "order_status":
        return bool(text_tools.statuses_described(asked))
    if view["intent"] == "complaint":
        return view["sub_intent"] in COMPLAINTS_WITH_A_REMEDY
    if view["intent"] == "password_reset":
        return text_tools.link_trouble(asked)
    return view["intent"] != "refund" or (
        view["sub_intent"] == "refund_status" or text_tools.asks_how(asked)
    )


def answer_from_articles(
    ctx: ToolContext, state: TicketState, view: IntentView
) -> tuple[AnswerPart, ActionExecution | None]:
    """The help centre's sentences that answer the intent's question, or a clarification."""
    question, candidates = article_candidates(state, view["intent"])
    answer = extractive_answer(question, candidates, embedder=ctx.embedder)
    if answer is None:
        kind = "clarify" if view["intent"] == "unknown" else "no_answer"
        return {"intent": view["intent"], "kind": kind, "facts": {}, "source_ids": []}, None
    part: AnswerPart = {
        "intent": view["intent"],
        "kind": "article",
        "facts": {"sentences": answer.sentences, "title": answer.title},
        "source_ids": [answer.source_id],
    }
    return part, None


def article_candidates(
    state: TicketState, intent: str
) -> tuple[str, list[tuple[str, str, str, float]]]:
    """The question an intent asks and its (id, title, text, score) articles, best first.

    In a message asking several things, an intent answers its own part of the message from
    the articles found for that part; otherwise the message from the turn's articles.
    """
    articles = {s["id"]: s for s in state["sources"] if s["kind"] in ("article", "resolution")}
    own = state.get("intent_questions", {}).get(intent)
    question = asked_question(state, intent)
    ranked = (
        [(s["id"], s["score"]) for s in articles.values()]
        if own is None
        else [(hit["id"], hit["score"]) for hit in own["hits"] if hit["id"] in articles]
    )
    return question, [(i, articles[i]["title"], articles[i]["text"], score) for i, score in ranked]
