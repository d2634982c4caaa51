"""Measuring a customer turn for the escalation gate: sentiment, frustration, distress.

Pure functions of the text (and of what the conversation already holds); no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import cast

PROFANITY = re.compile(
    r"\b(damn|dammit|wtf|ffs|crap|crappy|shit|shitty|bullshit|hell|fuck\w*|bloody|screw (this|you)|"
    r"pissed|sucks|useless|ridiculous|pathetic|idiot\w*|stupid)\b",
    re.IGNORECASE,
)
DISTRESS = re.compile(
    r"\b(kill(ing)? (my)?self|suicid\w*|end (it all|my life)|self[- ]harm\w*|"
    r"hurt(ing)? (my)?self|harm(ing)? (my)?self|"
    r"(don'?t|do not) (want to|wanna) (live|be here|exist)|"
    r"no (point|reason) (in )?(living|going on|anything)|"
    r"(don'?t|do not) see the point (of|in) (anything|living|going on)|dark place|"
    r"can'?t (go on|cope|take (it|this) any ?more|do this any ?more)|want to die|"
    r"want (it all|everything) to (stop|end)|better off (dead|without me))\b",
    re.IGNORECASE,
)
LEGAL = re.compile(
    r"\b(sue|suing|lawsuit|lawyer|attorney|legal action|small claims|court|ombudsman|"
    r"trading standards|attorney general|consumer protection)\b",
    re.IGNORECASE,
)
BOT_COMPLAINT = re.compile(
    r"\b(not helping|didn'?t (help|answer)|doesn'?t (help|answer)|same (answer|thing|message)|"
    r"going (round|around) in circles|you keep saying|are you (even )?listening|useless bot|"
    r"stupid bot|talking to a (wall|robot)|(that'?s|that is|this is) not what i (asked|said|meant)|"
    r"you (didn'?t|did not|don'?t|do not) (understand|read|listen)|robotic|canned (answer|reply|"
    r"response)|copy[- ]?paste\w*|(this|that) is a joke|what a joke|"
    r"no one (is )?(helping|answering)|"
    r"(no ?one|nobody) (can|will|is able to) (tell|help|answer))\b",
    re.IGNORECASE,
)
# Coming back again and again about the same thing ("my fifth chat about this").
REPEAT_CONTACT = re.compile(
    r"\b((second|third|fourth|fifth|sixth|seventh|\d+(st|nd|rd|th)) "
    r"(chat|call|email|e-mail|message|attempt|request|"
    r"time (today |now |this week )?(i'?ve |i have |i'?m |i am |that i'?ve |)"
    r"(contact|ask|writ|chat|call|"
    r"reach|messag|email|tell|explain|try))|(contacted|called|emailed|messaged|chatted with|"
    r"written to) (you|support|customer service|your team)[^.?!]{0,30}\b(times|twice|again|"
    r"already))|(requested|asked|tried|resent|re-sent)\b[^.?!]{0,20}\b(\d+|two|three|four|five|"
    r"several|many) (more )?times\b",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def _analyzer() -> Callable[[str], tuple[float, float]]:
    # TextBlob's lexicon itself: ``TextBlob(text).sentiment`` gives the same polarity and
    # builds a blob and a namedtuple class on each call (0.12 against 0.05 ms a text).
    from textblob.en import sentiment as lexicon

    return cast(Callable[[str], tuple[float, float]], lexicon)


def sentiment(text: str) -> float:
    """Polarity in [-1, 1] (TextBlob's lexicon), negative for unhappy messages."""
    return float(_analyzer()(text)[0])


def caps_ratio(text: str) -> float:
    """Share of letters in words of two or more capitals (shouting), 0-1."""
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 8:
        return 0.0
    shouted = sum(len(word) for word in re.findall(r"\b[A-Z]{2,}\b", text))
    return min(1.0, shouted / len(letters))


def exclamation_density(text: str) -> float:
    """Exclamation and question-mark runs, saturating at 1 for three or more."""
    runs = len(re.findall(r"[!?]{2,}|!", text))
    return min(1.0, runs / 3)


def profanity(text: str) -> float:
    """1 when the message swears or calls the service names, else 0."""
    return float(bool(PROFANITY.search(text)))


def distress(text: str) -> bool:
    """A mention of self-harm or of being in distress: always a person's job."""
    return bool(DISTRESS.search(text))


def legal_threat(text: str) -> bool:
    """A threat of legal action."""
    return bool(LEGAL.search(text))


ACKNOWLEDGEMENT = re.compile(
    r"\b(thanks?|thank (you|u)|thx|ty|cheers|appreciate|perfect|great|awesome|brilliant|cool|"
    r"got it|good to know|all good|sounds good|will do|that works|worked)\b",
    re.IGNORECASE,
)
JUST_OK = re.compile(
    r"^\W*(ok(ay)?|k|good|fine|alright|nice|yep|yes|sure)(\W+(ok(ay)?|good|fine|then|nice))*\W*$",
    re.IGNORECASE,
)
STILL_ASKING = re.compile(
    r"\b(want|need|please|pls|can you|could you|would you|refund|cancel|reset|change|update|send|"
    r"where|when|why|how|but|still|not|no|never)\b",
    re.IGNORECASE,
)
ACKNOWLEDGEMENT_MAX_WORDS = 12


def acknowledgement(text: str) -> float:
    """1 for a short closing message ("ok thanks", "perfect, got it") that asks for nothing."""
    if JUST_OK.match(text):
        return 1.0
    return float(
        len(text.split()) <= ACKNOWLEDGEMENT_MAX_WORDS
        and "?" not in text
        and bool(ACKNOWLEDGEMENT.search(text))
        and not STILL_ASKING.search(text)
        and not BOT_COMPLAINT.search(text)
        and not PROFANITY.search(text)
    )


def complains_about_agent(text: str) -> float:
    """1 when the customer says the agent is not helping or repeats itself.

    Coming back about the same thing again and again ("my fifth chat") counts too.
    """
    return float(bool(BOT_COMPLAINT.search(text) or REPEAT_CONTACT.search(text)))
