"""What shape a client-facing reason has, so a letter can set it the way a native writer would.

Owners type the reason for the client in a hurry: "Illness", "sick", "waiting for legal",
"we underestimated it", or whole sentences. No one frame fits all of these ("The delay is
due to sick" is not English), so the letter asks for the reason's shape and words each one
on its own terms:

- `sentence`: it already says who did what ("we underestimated it", "the data arrived late",
  anything with closing punctuation): it stands as its own sentence.
- `doing`: an activity without a subject ("waiting for legal", "väntar på juristerna"): the
  letter supplies the subject ("We've been held up waiting for legal.", "Vi väntar på …").
- `cause`: a thing that caused the delay ("illness", "a supplier outage"): the letter names
  it inside a sentence made for it ("The delay is due to illness."). A bare state word the
  locale knows ("sick", "sjuk") becomes its noun first ("illness", "sjukdom"), and a bare
  English noun that counts gets its article ("server outage" → "a server outage").

Chinese sets any single clause after 是因为, its own subject included ("此次延期是因为我们
低估了工作量"): one clause standing alone as a paragraph reads curt. Waiting typed without a
subject ("等待法务审核") is an activity the letter gives "我们仍在"; only text with inner
punctuation, or a long clause closed with a stop, stands alone. The word lists are short on
purpose: they catch what people type, and anything else falls back to the frame that is right
most often for its length.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_ENDS = (".", "!", "?", "。", "！", "？", "…")

# Words that open a sentence with its subject.
_SUBJECTS = {
    "en": {"we", "i", "they", "it", "there", "he", "she", "we've", "we're", "i've", "i'm",
           "it's", "they've", "they're", "there's", "we'd", "i'd", "nobody", "everyone"},
    "sv": {"vi", "jag", "de", "det", "han", "hon", "man", "ingen", "alla"},
}
# Finite verbs that turn "the data arrived late" into a sentence rather than a named cause.
_FINITE = {
    "en": {"is", "are", "was", "were", "has", "have", "had", "will", "would", "can", "could",
           "did", "does", "do", "isn't", "aren't", "wasn't", "weren't", "hasn't", "haven't",
           "hadn't", "won't", "can't", "couldn't", "didn't", "doesn't", "don't", "took",
           "came", "went", "got", "broke", "fell", "left", "ran", "lost", "needs", "takes",
           "became", "kept", "found", "arrived", "failed", "crashed", "changed",
           "slipped", "stalled", "needed"},
    "sv": {"är", "var", "har", "hade", "blev", "kom", "tog", "gick", "låg", "kan", "kunde",
           "ska", "skulle", "måste", "behöver", "behövde", "saknas", "saknades", "fattas",
           "dröjer", "dröjde", "tar", "krånglar", "krånglade", "strular", "strulade",
           # past tenses owners type after a named subject ("leverantören skickade fel filer")
           "skickade", "levererade", "glömde", "kraschade", "kraschar", "fungerade",
           "fungerar", "funkade", "funkar", "hände", "dök", "föll", "bröt", "försvann",
           "räckte", "stämde", "visade", "upptäckte", "slutade", "ringde", "svarade"},
}
# Verbs a Swedish owner starts with when they leave out "vi": "väntar på juristerna".
_SV_SUBJECTLESS = {"väntar", "väntade", "saknar", "saknade", "behöver", "behövde", "har",
                   "hade", "är", "var", "jobbar", "arbetar", "håller", "underskattade",
                   "missade", "fick", "måste", "hinner", "hann"}
# Words after an English "-ing" word that show it is an activity ("waiting for legal"),
# not a noun ("staffing problems").
_EN_DOING_NEXT = {"for", "on", "to", "the", "a", "an", "our", "their", "your", "his", "her",
                  "its", "this", "that", "these", "those", "back", "up", "out", "with", "in",
                  "through", "over", "around", "about", "until", "till", "all", "some"}
# English words that open an activity whatever follows: "awaiting approval".
_EN_DOING_FIRST = {"waiting", "awaiting"}
# English nouns a cause is often typed as, bare, that a sentence needs with "a": "server
# outage" → "a server outage", "bug in the export" → "a bug in the export".
_EN_COUNTABLE = {"emergency", "outage", "shortage", "change", "bug", "problem", "issue",
                 "delay", "failure", "crash", "error", "mistake", "conflict", "breakdown",
                 "incident", "accident", "glitch", "setback", "complication", "injury",
                 "bereavement", "strike", "blocker", "hold-up", "holdup", "dependency"}
# Words after which an English noun is no longer bare: "our server outage", "the bug".
_EN_DETERMINERS = {"a", "an", "the", "our", "their", "your", "his", "her", "its", "this",
                   "that", "these", "those", "some", "another", "one", "any", "every", "each",
                   "my", "no"}
_EN_PREPOSITIONS = {"in", "on", "at", "of", "for", "from", "with", "to", "during", "after",
                    "before", "by", "between", "within", "affecting"}
# A bare state someone types for a cause, as the noun the letter can name.
_STATES = {
    "en": {"sick": "illness", "ill": "illness", "unwell": "illness", "off sick": "illness",
           "out sick": "illness", "understaffed": "a staff shortage",
           "short-staffed": "a staff shortage", "short staffed": "a staff shortage",
           "overloaded": "a heavy workload", "swamped": "a heavy workload",
           "holidays": "the holidays", "flu": "the flu"},
    "sv": {"sjuk": "sjukdom", "sjuka": "sjukdom", "sjukskriven": "sjukdom",
           "sjukskrivna": "sjukdom", "underbemannade": "personalbrist",
           "underbemannat": "personalbrist", "överbelastade": "hög arbetsbelastning",
           # a single event needs its article: "beror på ett IT-haveri", not "på IT-haveri"
           "it-haveri": "ett IT-haveri", "serverhaveri": "ett serverhaveri",
           "datorhaveri": "ett datorhaveri", "driftstopp": "ett driftstopp",
           "strömavbrott": "ett strömavbrott"},
    # "由于生病" leaves a Chinese reader asking whose illness; the cause names the team's side.
    "zh": {"生病": "项目人员生病", "病了": "项目人员生病", "病假": "项目人员休病假"},
}
# Waiting a Chinese owner types without a subject, and the "still" words it may start with.
_ZH_WAITING = ("等待", "等候", "等着")
_ZH_ONGOING = ("正在", "还在", "仍在", "在")


class Cause(NamedTuple):
    """A reason's shape (`sentence`, `doing` or `cause`) and its words, tidied for that shape."""

    shape: str
    text: str


def _words(text: str) -> list[str]:
    return [word.strip(",;:()\"“”'’").lower() for word in text.split()]


def lower_first(text: str) -> str:
    """"Illness" → "illness" inside a sentence; "IT outage" and "Acme's data" keep theirs."""
    first = text.split(" ", 1)[0]
    if re.fullmatch(r"[A-ZÅÄÖ][a-zåäöé]+", first):
        return text[0].lower() + text[1:]
    return text


def _capital(text: str) -> str:
    return text[0].upper() + text[1:]


def _finish(text: str, locale: str) -> str:
    return text + ("。" if locale == "zh" else ".")


def _with_article(bare: str) -> str:
    """"server outage" → "a server outage", "IT outage" → "an IT outage": an English singular
    noun that can be counted, typed without its article, gets one; "staffing problems",
    "illness" and "our outage" stay as they are."""
    folded = _words(bare)
    if folded[0] in _EN_DETERMINERS or folded[0].isdigit():
        return bare
    head = next((folded[index - 1] for index, word in enumerate(folded)
                 if index and word in _EN_PREPOSITIONS), folded[-1])
    if head not in _EN_COUNTABLE:
        return bare
    first = bare.split()[0]
    vowel = (first[0] in "AEFHILMNORSX" if first.isupper() and len(first) > 1
             else first[0].lower() in "aeiou" and not first.lower().startswith(
                 ("uni", "use", "usu", "eu", "one")))
    return ("an " if vowel else "a ") + bare


def _is_finite(word: str, index: int, locale: str) -> bool:
    """A verb that says something happened: "the vendor shipped", "datan försenades"."""
    if word in _FINITE.get(locale, set()):
        return True
    if locale == "en":
        return index >= 2 and len(word) > 4 and word.endswith("ed")
    return locale == "sv" and index >= 1 and word.endswith("ades")


def _zh_waiting(bare: str) -> str | None:
    """"等待法务审核" and "在等法务" as the waiting itself, for the letter to give a subject."""
    for ongoing in _ZH_ONGOING:
        if bare.startswith(ongoing + "等"):
            return bare[len(ongoing):]
    return bare if bare.startswith(_ZH_WAITING) else None


def _shape(bare: str, locale: str) -> Cause:
    if locale == "zh":
        if bare in _STATES["zh"]:
            return Cause("cause", _STATES["zh"][bare])
        waiting = _zh_waiting(bare)
        if waiting:
            return Cause("doing", waiting)
        if re.search("[，。；！？,;]", bare):
            return Cause("sentence", _finish(bare, locale))
        return Cause("cause", bare)
    folded = _words(bare)
    first = bare.split()[0]
    state = _STATES.get(locale, {}).get(" ".join(folded))
    if state:
        return Cause("cause", state)
    subject = folded[0] in _SUBJECTS.get(locale, set()) and not (first.isupper() and len(first) > 1)
    if subject or any(
            _is_finite(word, index, locale) for index, word in enumerate(folded) if index):
        return Cause("sentence", _finish(_capital(bare), locale))
    if locale == "sv" and folded[0] in _SV_SUBJECTLESS:
        return Cause("doing", lower_first(bare))
    if locale == "en" and len(folded) > 1 and (
            folded[0] in _EN_DOING_FIRST
            or (folded[0].endswith("ing") and len(folded[0]) > 4
                and folded[1] in _EN_DOING_NEXT)):
        return Cause("doing", lower_first(bare))
    if len(folded) > 6:
        # Many words and no verb we know: most likely a sentence written without its stop.
        return Cause("sentence", _finish(_capital(bare), locale))
    if locale == "en":
        return Cause("cause", _with_article(lower_first(bare)))
    return Cause("cause", lower_first(bare))


def cause_of(text: str, locale: str) -> Cause:
    """The shape of a client-facing reason in `locale`, with its words ready for that shape:
    a sentence capitalised and closed, an activity or cause trimmed and lower-cased.

    A full stop alone does not make a sentence: "Illness." and "Waiting for legal." are
    still a cause and an activity, and read as such."""
    words = " ".join(str(text).split()).strip()
    if not words:
        raise ValueError("a reason needs some words")
    bare = words.rstrip(".。,;:，；： ")
    if not bare:
        raise ValueError("a reason needs some words")
    if words.endswith(("!", "?", "！", "？", "…")):
        return Cause("sentence", _capital(words))
    shape = _shape(bare, locale)
    short = len(bare) <= 24 and (locale == "zh" or len(bare.split()) <= 3)
    if words == bare or shape.shape == "doing" or (shape.shape == "cause" and short):
        return shape
    return Cause("sentence", _capital(words))
