"""Tune and check halves of a question set, fixed by a hash of the question id.

Thresholds and rules are chosen on the tune half; figures are quoted on the check half.
A rule that helps the tune half and not the check half is fitted to those questions.
"""

from __future__ import annotations

import hashlib

HALVES = ("tune", "check")


def half_of(question_id: str) -> str:
    return "check" if hashlib.sha1(question_id.encode("utf-8")).digest()[0] % 2 else "tune"
