"""Is a short reply a yes or a no to the proposal on the table?"""

from __future__ import annotations

import re

_CONFIRM = re.compile(
    r"^\s*(yes|yeah|yep|yup|sure|ok(ay)?|please do|do it|go ahead|confirm(ed)?|sounds good|"
    r"that works|absolutely|of course|correct|y)\b(?!.*\b(not|don'?t|no)\b)",
    re.IGNORECASE,
)
_DECLINE = re.compile(
    r"^\s*(no|nope|nah|don'?t|do not|cancel that|never ?mind|not now|stop)\b", re.IGNORECASE
)
MAX_WORDS = 12


def detect_confirmation(text: str) -> str | None:
    """'confirm', 'decline', or None when the message is not a short yes/no reply."""
    if len(text.split()) > MAX_WORDS:
        return None
    if _DECLINE.search(text):
        return "decline"
    if _CONFIRM.search(text):
        return "confirm"
    return None
