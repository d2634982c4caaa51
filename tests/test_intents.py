"""The intent cascade: keyword rules first, then the trained embedding model, else unknown."""

from __future__ import annotations

import pytest
from testkit import SPEC_MESSAGE, Prepared

from supportgraph.intents.classifier import IntentClassifier
from supportgraph.intents.confirmation import detect_confirmation
from supportgraph.intents.rules import match_rules
from supportgraph.intents.taxonomy import load_taxonomy
from supportgraph.knowledge.embedder import Embedder

TAXONOMY = load_taxonomy()


@pytest.fixture(scope="module")
def classifier(prepared: Prepared) -> IntentClassifier:
    return prepared.services.classifier


def intents_of(classifier: IntentClassifier, embedder: Embedder, text: str) -> list[str]:
    return [p.intent for p in classifier.classify(text, embedder.embed_one(text))]


def test_rules_find_both_intents_of_the_spec_message() -> None:
    assert [m.intent for m in match_rules(SPEC_MESSAGE, TAXONOMY)] == ["order_status", "refund"]


@pytest.mark.parametrize(
    ("text", "intent", "sub_intent"),
    [
        ("I want to talk to a human", "human_agent", None),
        ("gimme a real person rn", "human_agent", None),
        ("Live agent please!", "human_agent", None),
        ("I forgot my password", "password_reset", None),
        ("I lost access to my email and forgot my password", "password_reset",
         "account_recovery"),
        ("I was charged twice for the same order", "billing", "double_charge"),
        ("Please cancel my order ORD-789", "cancel_order", None),
        ("I'm going to sue you", "complaint", "legal_threat"),
        ("not an order. my whole account. want it gone", "account_update", "close_account"),
        ("please get rid of my profile", "account_update", "close_account"),
        ("You billed me $39 for an order that was cancelled", "billing", "dispute"),
        ("I cancelled ORD-1101 and still got charged", "billing", "dispute"),
        ("I was charged for something I never ordered", "billing", "dispute"),
        ("I want to close my Larkspur account.", "account_update", "close_account"),
        ("theres a $112 charge from you i dont recognize", "billing", "unrecognized_charge"),
        ("my bank is already investigating the payment", "billing", "dispute"),
        ("He can't access his old email address any more", "password_reset", "account_recovery"),
        ("I lost access to my old inbox", "password_reset", "account_recovery"),
        ("Can the laptop go to 221 Baker Street, Portland, OR 97201 instead?", "account_update",
         "shipping_address"),
        ("I sent your form three days ago and nobody has replied.", "complaint", None),
        ("your email change process is a total mess", "complaint", None),
        ("you idiots can't do anything right", "complaint", None),
        ("the profile page won't save, your site is broken", "complaint", None),
        ("where is my refund?", "refund", "refund_status"),
        ("I want to check the status of my refund", "refund", "refund_status"),
        ("Where's my reimbursement for ORD-1302?", "refund", "refund_status"),
        ("forgot pw", "password_reset", None),
        ("hi there", "unknown", "greeting"),
        ("Hello, I have a quick question", "unknown", "greeting"),
        ("ok thanks", "unknown", "closing"),
        ("great, that's all I needed. have a good day!", "unknown", "closing"),
        ("thanks for the refund!", "unknown", "closing"),  # the model: another refund (1.0)
        ("thanks for the refund, but I was charged twice", "billing", "double_charge"),
        ("Thanks! Where is my order?", "order_status", None),  # small talk is a whole message
        ("Need to update my saved Visa", "billing", "payment_method"),
        ("yo are my trail runners close?", "order_status", None),
        ("can I cancel my subscription", "account_update", "preferences"),
        ("track", "order_status", None),  # one word typed into the chat box
        ("please stop the newsletters", "account_update", "preferences"),
    ],
)  # fmt: skip
def test_rules(text: str, intent: str, sub_intent: str | None) -> None:
    matches = match_rules(text, TAXONOMY)
    assert matches, text
    assert (matches[0].intent, matches[0].sub_intent) == (intent, sub_intent)


def test_a_decisive_rule_settles_a_one_request_message(
    classifier: IntentClassifier, embedder: Embedder
) -> None:
    # The model reads it as an order to cancel (0.82); the store sells no subscriptions, and
    # a laptop order was offered for cancellation.
    assert intents_of(classifier, embedder, "can I cancel my subscription") == ["account_update"]
    [overruled] = classifier.classify(
        "can I cancel my subscription", embedder.embed_one("can I cancel my subscription")
    )
    assert overruled.topic == "Email, SMS and marketing preferences."  # searched with it
    [agreed] = classifier.classify("where is my refund", embedder.embed_one("where is my refund"))
    assert agreed.sub_intent == "refund_status" and agreed.topic is None
    boxed = "can i cancel my subscription box order for this month, the one that hasn't shipped yet"
    assert intents_of(classifier, embedder, boxed)[0] == "cancel_order"
    both = "please stop the newsletters. Also where is my order?"
    assert intents_of(classifier, embedder, both)[:2] == ["account_update", "order_status"]


def test_rules_stay_silent_out_of_scope() -> None:
    assert match_rules("what's the weather in Paris", TAXONOMY) == []


def test_a_new_email_address_is_not_a_shipping_address() -> None:
    emailed = "I changed my email. The login code never arrives at my new address"
    assert "account_update" not in {m.intent for m in match_rules(emailed, TAXONOMY)}
    moved = match_rules("I moved, please send my order to my new address", TAXONOMY)
    assert [(m.intent, m.sub_intent) for m in moved] == [("account_update", "shipping_address")]


@pytest.mark.parametrize(
    "text",
    [
        "is the site broken? I can't sign in",
        "is there a joke card in the gift box?",
        "I gave it to 3 friends",
    ],
)
def test_questions_that_only_mention_trouble_are_no_complaint(text: str) -> None:
    assert {m.intent for m in match_rules(text, TAXONOMY)} <= {"faq"}


@pytest.mark.parametrize(
    "text",
    ["What time do your human support agents log off on weekdays?", "r u a real person or an AI"],
)
def test_a_person_mentioned_is_not_a_person_asked_for(text: str) -> None:
    assert "human_agent" not in {m.intent for m in match_rules(text, TAXONOMY)}


def test_classifier_spec_message(classifier: IntentClassifier, embedder: Embedder) -> None:
    predictions = classifier.classify(SPEC_MESSAGE, embedder.embed_one(SPEC_MESSAGE))
    assert [p.intent for p in predictions] == ["order_status", "refund"]
    assert all(p.classifier_used == "rules" and p.confidence >= 0.95 for p in predictions)


def test_classifier_human_agent(classifier: IntentClassifier, embedder: Embedder) -> None:
    assert intents_of(classifier, embedder, "I want to talk to a human")[0] == "human_agent"


def test_classifier_out_of_scope_is_unknown(
    classifier: IntentClassifier, embedder: Embedder
) -> None:
    text = "what's the weather in Paris"
    predictions = classifier.classify(text, embedder.embed_one(text))
    assert [p.intent for p in predictions] == ["unknown"]
    assert predictions[0].classifier_used == "embedding"
    assert predictions[0].model_version == classifier.model.version  # type: ignore[union-attr]


def test_classifier_embedding_tier_without_keywords(
    classifier: IntentClassifier, embedder: Embedder
) -> None:
    text = "my parcel hasn't arrived yet, any idea when it will show up?"
    assert match_rules(text, TAXONOMY) == []
    predictions = classifier.classify(text, embedder.embed_one(text))
    assert predictions[0].intent == "order_status"
    assert predictions[0].classifier_used == "embedding"


def test_each_clause_of_a_several_request_message_is_classified(
    classifier: IntentClassifier, embedder: Embedder
) -> None:
    text = (
        "can i check my gift card balance somewhere? also wheres my phone case. "
        "and theres a $112 charge from you i dont recognize"
    )
    predictions = {p.intent: p for p in classifier.classify(text, embedder.embed_one(text))}
    assert set(predictions) == {"faq", "order_status", "billing"}
    gift_cards = predictions["faq"]
    assert gift_cards.classifier_used == "embedding" and gift_cards.sub_intent == "gift_cards"
    assert gift_cards.evidence == "can i check my gift card balance somewhere"
    assert classifier.model is not None and classifier.model.meta.clause_threshold is not None
    assert gift_cards.confidence >= classifier.model.meta.clause_threshold


def test_a_one_request_message_gets_no_clause_intents(
    classifier: IntentClassifier, embedder: Embedder
) -> None:
    text = "I need to change the email on my account. The old address is no longer in use."
    assert intents_of(classifier, embedder, text) == ["account_update"]


def test_a_clause_replaces_a_weaker_runner_up_of_the_whole_message(
    classifier: IntentClassifier, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from supportgraph.intents.classifier import IntentPrediction

    def predicted(intent: str, confidence: float, evidence: str | None) -> IntentPrediction:
        return IntentPrediction(
            intent=intent, confidence=confidence, classifier_used="embedding", evidence=evidence
        )

    text = "Was the yoga mat refund for ORD-1302 actually sent? And what's happening with ORD-1301?"
    clause = predicted("order_status", 0.98, "And what's happening with ORD-1301?")
    monkeypatch.setattr(classifier, "_clause_intents", lambda *_: [clause])
    primary = predicted("refund", 0.95, "Was the yoga mat refund for ORD-1302 actually sent")
    weak = predicted("order_status", 0.05, None)
    assert classifier._with_clause_intents(text, [primary, weak], 0.0) == [primary, clause]
    strong = predicted("order_status", 0.99, None)
    assert classifier._with_clause_intents(text, [primary, strong], 0.0) == [primary, strong]
    assert classifier._with_clause_intents(text, [primary], 0.0) == [primary, clause]
    monkeypatch.undo()
    # The real model: whichever way it finds the order question, it knows which clause asked.
    found = {p.intent: p for p in classifier.classify(text, embedder.embed_one(text))}
    assert found["order_status"].evidence == "And what's happening with ORD-1301?"


def test_a_sentence_about_what_was_just_asked_stays_with_it(
    classifier: IntentClassifier, embedder: Embedder
) -> None:
    from supportgraph.intents.clauses import split_clauses

    text = "how do i update my phone number? it's the one my 2FA codes go to"
    assert split_clauses(text) == [text]
    assert intents_of(classifier, embedder, text) == ["account_update"]
    assert split_clauses("Where is my order? Also can I get a refund") == [
        "Where is my order",
        "Also can I get a refund",
    ]


def test_a_message_unsure_as_a_whole_is_read_by_its_clauses(
    classifier: IntentClassifier, embedder: Embedder
) -> None:
    text = (
        "The shoes STILL aren't here, which is really annoying. Where are they exactly? And "
        "while I'm at it, how do I swap the card saved on my account for a new one?"
    )
    found = classifier.classify(text, embedder.embed_one(text))
    # as a whole: a 31% refund, a 22% question and a 21% account update
    assert [(p.intent, p.sub_intent) for p in found] == [
        ("complaint", "delivery"),
        ("billing", "payment_method"),
    ]
    assert all(p.evidence for p in found)


def test_a_short_question_about_what_the_sentence_before_named_stays_with_it(
    classifier: IntentClassifier, embedder: Embedder
) -> None:
    from supportgraph.intents.clauses import split_clauses

    text = (
        "My card got declined at checkout, then I paid with PayPal, but there's still a "
        "pending charge on the card. When does that go away?"
    )
    assert split_clauses(text) == [text]
    # on its own "When does that go away?" read as a complaint
    assert "complaint" not in intents_of(classifier, embedder, text)
    assert split_clauses("Cancel ORD-789. Where is ORD-790?") == [
        "Cancel ORD-789",
        "Where is ORD-790?",
    ]
    assert split_clauses("Where is my order? How do I reset my password?") == [
        "Where is my order",
        "How do I reset my password?",
    ]


@pytest.mark.parametrize(
    ("others", "asked"),
    [
        # the condition before the question stays with it
        (
            ["Two quick ones: where can I grab a PDF invoice for my order"],
            "if I send something back that isn't broken, is there a fee?",
        ),
        (
            ["is there a fee?"],
            "Two quick ones: where can I grab a PDF invoice for my order, "
            "and if I send something back that isn't broken",
        ),
        ([], None),  # nothing removed: the whole message
    ],
)
def test_the_part_of_a_message_one_request_asks(others: list[str], asked: str | None) -> None:
    from supportgraph.intents.clauses import own_part

    text = (
        "Two quick ones: where can I grab a PDF invoice for my order, and if I send something "
        "back that isn't broken, is there a fee?"
    )
    assert own_part(text, others) == (asked or text)
    middle = "Need to update my Visa, want to know if you ship to the UK, and I have a new phone."
    assert own_part(middle, ["want to know if you ship to the UK"]) == (
        "Need to update my Visa, and I have a new phone."
    )


def test_a_part_that_points_back_to_the_rest_is_not_asked_on_its_own() -> None:
    from supportgraph.intents.clauses import refers_back

    assert refers_back("Can I get a new one?") and refers_back("when will they arrive")
    assert not refers_back("what are your support hours?")
    assert not refers_back("if I send something back that isn't broken, is there a fee?")
    # "one" is the card this part names itself
    assert not refers_back("how do I swap the card saved on my account for a new one?")


def test_classifier_without_model_falls_back_to_unknown() -> None:
    bare = IntentClassifier(TAXONOMY, None)
    [prediction] = bare.classify("what's the weather in Paris", None)
    assert (prediction.intent, prediction.classifier_used) == ("unknown", "fallback")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", "confirm"),
        ("Yes please, go ahead", "confirm"),
        ("no thanks", "decline"),
        ("no, leave it", "decline"),
        ("yes but do not cancel it", None),
        ("I want a refund for my headphones that arrived broken last week, can you help me", None),
    ],
)
def test_confirmation(text: str, expected: str | None) -> None:
    assert detect_confirmation(text) == expected


def test_taxonomy_and_policy_agree_on_what_always_escalates() -> None:
    from policies.config import load_policy_config
    from supportgraph.intents.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    assert taxonomy.always_escalate == load_policy_config().escalation.always_escalate
    assert all(intent.description for intent in taxonomy.intents)
    assert all(intent.examples for intent in taxonomy.intents)


def test_small_talk_is_the_only_intent_of_its_message(
    classifier: IntentClassifier, embedder: Embedder
) -> None:
    # Read alone by the model, "ok thanks" is a question and "that worked, thanks" a reset.
    for text in ("ok thanks", "that worked, thanks", "thank you so much!"):
        predictions = classifier.classify(text, embedder.embed_one(text))
        assert [(p.intent, p.sub_intent, p.classifier_used) for p in predictions] == [
            ("unknown", "closing", "rules")
        ]
    assert classifier.rule_intents("ok thanks") == set()  # no request beside open proposals
