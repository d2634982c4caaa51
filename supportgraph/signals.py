"""Measuring a customer turn for the escalation gate: sentiment, frustration, distress.

Pure functions of the text (and of what the conversation already holds); no I/O.
"""

from __future__ import annotations

import re
from functools import lru_cache

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
    r"stupid bot|talking to a (wall|robot))\b",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def _analyzer() -> type:
    from textblob import TextBlob

    return TextBlob


def sentiment(text: str) -> float:
    """Polarity in [-1, 1] (TextBlob's lexicon), negative for unhappy messages."""
    return float(_analyzer()(text).sentiment.polarity)


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


def complains_about_agent(text: str) -> float:
    """1 when the customer says the agent is not helping or repeats itself."""
    return float(bool(BOT_COMPLAINT.search(text)))
