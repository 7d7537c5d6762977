"""The labelled sentences behind bench/bench_commitments.py and tests/test_commitments.py.

One file per language and part: `<lang>_dev.txt` (the rules were tuned on it) and
`<lang>_heldout.txt` (written before the detector, never used to tune it). A line is
`KIND AUTHOR | text`: KIND is C (commitment), R (request) or N.<why> (no suggestion, and
why: q question, c conditional, p past, n negation, h hedge, quote, third, clientpromise,
other); AUTHOR is m (a member) or c (the client's contact); "\\n" in a text is a line break.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from reliability.calendar import BusinessCalendar
from reliability.commitments import Person

HERE = Path(__file__).parent
LANGUAGES = ("en", "sv", "zh")
PARTS = ("dev", "heldout")
KINDS = {"C": "commitment", "R": "request"}
# Each language's conversation: Acme's contact, the client's calendar, the team.
CALENDARS = {
    "en": ("America/New_York", "US"),
    "sv": ("Europe/Stockholm", "SE"),
    "zh": ("Asia/Shanghai", "CN"),
}
TEAM = (
    Person("alice@example.com", "Alice", "U123"),
    Person("bob@example.com", "Bob"),
    Person("erik@example.com", "Erik Lind"),
    Person("sara@example.com", "Sara", "U456"),
    Person("liwei@example.com", "李伟", "U789"),
    Person("wangfang@example.com", "王芳"),
)
CONTACT = "dana@acme.example"


@dataclass(frozen=True)
class Labelled:
    language: str
    label: str
    author_is_member: bool
    text: str

    @property
    def kind(self) -> str:
        return KINDS.get(self.label, "none")


def load(language: str, part: str) -> list[Labelled]:
    cases = []
    for line in (HERE / f"{language}_{part}.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        head, text = line.split(" | ", 1)
        label, author = head.split()
        cases.append(Labelled(language, label, author == "m", text.replace("\\n", "\n")))
    return cases


def read(case: Labelled) -> dict[str, Any]:
    """detect()'s keyword arguments for one labelled sentence."""
    timezone, country = CALENDARS[case.language]
    calendar = BusinessCalendar(timezone=timezone, country=country)
    return {
        "author": TEAM[0].email if case.author_is_member else CONTACT,
        "author_is_member": case.author_is_member,
        "client": "Acme",
        "now": datetime(2026, 11, 16, 9, 0, tzinfo=ZoneInfo(timezone)),
        "calendar": calendar,
        "members": TEAM,
    }
