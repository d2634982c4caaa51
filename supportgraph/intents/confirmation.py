"""Tell whether a short reply is a yes or a no to the proposal on the table."""

from __future__ import annotations

import re

_CONFIRM = re.compile(
    r"\b(yes|yeah|yep|yup|sure|ok(ay)?|please do|do it|go ahead|confirm(ed)?|sounds good|"
    r"that works|absolutely|of course|that'?s (right|correct)|correct|please (update|proceed)|"
    r"proceed)\b",
    re.IGNORECASE,
)
_DECLINE = re.compile(
    r"\b(no|nope|nah|don'?t|do not|never ?mind|not now|leave it|keep it|i'?ll keep|"
    r"changed my mind|hold off|not yet)\b",
    re.IGNORECASE,
)
MAX_WORDS = 12


def detect_confirmation(text: str) -> str | None:
    """'confirm', 'decline', or None when the message is not a short, unambiguous reply."""
    if len(text.split()) > MAX_WORDS:
        return None
    confirm, decline = bool(_CONFIRM.search(text)), bool(_DECLINE.search(text))
    if confirm == decline:
        return None
    return "confirm" if confirm else "decline"
