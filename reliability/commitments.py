"""Promises made in passing: find the team's commitments and the client's requests in a text.

"I'll send the revised deck by Thursday" in a shared channel, "vi skickar rapporten senast
fredag" in an email reply, "我们周五前把报告发给您" in meeting notes. Rule-based so every
suggestion can be explained: a sentence is a commitment when a team subject (I, we, a named
or @mentioned member) commits (will, ska, 会 ... or a Swedish/Chinese present tense) to a
deliverable verb and the deadline resolver accepts its deadline; a client's sentence is a
request when it asks for something by a deadline, or asks a question. Precision first: a
sentence that is a question, conditional, past, negated, hedged, quoted, or someone else's
promise is never suggested, since a wrong suggestion costs the team's patience and a missed
one can still be logged by hand. Pure: `now` and the calendar are inputs. See
docs/commitments.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from reliability.calendar import BusinessCalendar
from reliability.deadline_grammar import detect_locale
from reliability.deadlines import DeadlineError, Resolution, resolve


class FindingKind(StrEnum):
    commitment = "commitment"
    request = "request"


@dataclass(frozen=True)
class Person:
    """A team member as detection needs them: how they are named and who they are."""

    email: str
    name: str
    slack_user_id: str | None = None


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    sentence: str
    title: str
    owner: str | None  # a member's email, or the author's address
    client: str | None
    due_at: datetime | None
    confidence: float

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "sentence": self.sentence,
            "title": self.title,
            "owner": self.owner,
            "client": self.client,
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "confidence": self.confidence,
        }


@dataclass(frozen=True)
class _Language:
    """One language's rules; every pattern is matched case-insensitively on one sentence."""

    subject: str  # the team speaking: I, we, Erik and I
    offer: str  # an offer that needs no modal: "let me send"
    ask: str  # a member asked to do it: "<@U123> can you send"
    modal: str  # what turns a verb into a commitment, may be empty in Swedish and Chinese
    verbs: str  # deliverables: something the client receives or can check
    receipt: str  # "you'll have it": the client receives, from a member's mouth
    request: str  # a client asking for something
    negation: str
    not_negation: str  # phrases with a negation word that negate nothing ("no later than")
    conditional: str
    hedge: str
    past: str
    question: str
    others: str  # someone else promising in the same sentence: "…, who'll review it by Friday"


def _alt(*words: str) -> str:
    return "(?:" + "|".join(sorted(words, key=len, reverse=True)) + ")"


def _ing(verb: str) -> str:
    first, _, rest = verb.partition(" ")
    if first.endswith("e") and not first.endswith("ee"):
        first = first[:-1] + "ing"
    elif re.fullmatch(r"[^aeiou]*[aeiou][bdgmnprt]", first):
        first = first + first[-1] + "ing"
    else:
        first += "ing"
    return f"{first} {rest}".strip()


EN_VERBS = (
    "send", "share", "deliver", "email", "e-mail", "mail", "forward", "finish", "finalise",
    "finalize", "complete", "submit", "upload", "post", "provide", "prepare", "draft", "write",
    "update", "review", "fix", "deploy", "ship", "book", "confirm", "call", "follow up",
    "circle back", "get back", "come back", "revert", "publish", "present", "set up",
    "schedule", "hand over", "return", "put together", "turn around", "run", "check",
    "respond", "reply", "answer", "make sure", "wrap up", "push", "produce", "create",
    "design", "build", "edit", "give", "write up", "sort out", "report back", "pass on",
    "revise", "amend", "translate", "proofread", "rework", "polish", "export", "render",
    "record", "film", "shoot", "print", "launch", "release", "invoice", "compile",
    "summarise", "summarize", "test", "install", "configure", "migrate", "implement",
    "resolve", "patch", "go live", "sign", "pitch", "outline", "file",
)  # fmt: skip
# "get"/"have" only commit when the thing travels or is ready: "I'll have the numbers for you".
EN_RECEIVING = (r"get you\b|(?:put|turn|get|have)\b(?=.*\b(?:together|around|to you|"
                r"for you|over|across|ready|done|finished|"
                r"finali[sz]ed|complete|sorted|in your inbox|with you|back)\b)")  # fmt: skip
SV_VERBS = (
    "skick", "leverer", "mejl", "mail", "del", "fix", "ordn", "återkomm", "hör av", "ta fram",
    "tar fram", "sammanställ", "ladda upp", "laddar upp", "bok", "sätt", "sätter", "uppdater",
    "publicer", "ring", "skriv", "gör", "driftsätt", "bekräft", "svar", "returner", "lämna",
    "lämnar", "presenter", "följ", "följer", "rapporter", "räkna", "ser till", "se till",
    "ta hand", "tar hand", "blir klar", "bli klar", "sammanfatt", "kolla", "revider",
    "juster", "översätt", "korrläs", "färdigställ", "lanser", "spela in", "spelar in", "film",
    "trycka", "trycker", "test", "implementer", "åtgärd", "fakturer", "skriva under",
    "skriver under", "signer", "installer", "konfigurer",
)  # fmt: skip
SV_READY = r"(?:har|ha)\b(?=.*\b(?:klar|klara|färdig|färdiga|ett svar|svar)\b)"
ZH_VERBS = (
    "发", "交付", "提交", "提供", "分享", "上传", "寄", "整理", "准备", "完成", "做好", "做完",
    "写好", "更新", "修好", "上线", "发布", "回复", "答复", "反馈", "给您", "约好", "安排",
    "搭好", "确认", "汇报", "移交", "交", "定稿", "返还", "跟进", "出一版", "处理", "剪完",
    "算", "报价", "打电话", "通知", "预订", "做一份", "定下来", "写", "修改", "调整", "翻译",
    "校对", "测试", "部署", "实施", "解决", "交稿", "出稿", "出图", "签", "录制", "拍摄",
    "开票", "改好", "改完",
)  # fmt: skip

ENGLISH = _Language(
    offer=r"\blet (?:me|us)\s+",
    ask=r"[,:]?\s*(?:can|could|will|would)\s+you\s+(?:please\s+)?",
    subject=r"(?:\bI\b|\bwe\b|\b\w+ and I\b|^|(?<=[,;:!–—-])\s*)",
    modal=(r"\s*(?:'ll|’ll|will|shall|can|am going to|are going to|is going to|'s going to"
           r"|’s going to|promise to|commit to|to|'m going to|’m going to|'re going to"
           r"|’re going to|'m|’m|'re|’re|am|are|is)"
           r"(?:\s+(?:also|definitely|certainly|just|then|personally|now))?\s+"),
    verbs=_alt(*EN_VERBS, *(_ing(v) for v in EN_VERBS)) + r"\b|" + EN_RECEIVING,
    receipt=(r"\byou(?:'ll|’ll|\swill)\s+(?:have|get|receive|see)\b"
             r"|\bwill be (?:with you|in your inbox|on your desk)\b"),
    request=(r"\b(?:can|could|would|will)\s+(?:you|someone|anyone|we get|we have)\b|\bplease\b"
             r"|\bkindly\b|\b(?:we|i)(?:'d| would)?\s+(?:need(?!\s+to\b)|appreciate|like|want)\b"
             r"|^\s*need\b"
             r"|\blet (?:us|me) know\b|\bmake sure\b|\bwould it be possible\b"
             r"|^\s*(?:send|share|provide|confirm|get)\b"),
    negation=(r"\b(?:not|never|no|unable|cannot|can't|can’t|won't|won’t|don't|don’t|"
              r"isn't|aren't|wouldn't|nothing)\b|n't\b|n’t\b"),
    not_negation=r"\b(?:no|not) later than\b|\bno problem\b|\bno worries\b|\bnot a problem\b",
    conditional=(r"\b(?:if|unless|provided|providing|assuming|as long as|in case|once|as soon as"
                 r"|depending on)\b|(?:^|,\s*)when\b"),
    hedge=(r"\b(?:might|could|would|perhaps|maybe|possibly|probably|hopefully|ideally|"
           r"theory|try|trying|hope|think|should|suppose|likely|aim|aiming|guess)\b"
           r"|'d\b|’d\b"),
    past=(r"\b(?:sent|shared|delivered|emailed|uploaded|already|yesterday|last|was|were|had|"
          r"said|told|promised|went|did|this morning|earlier)\b"),
    question=r"\?\s*$",
    others=r"\b(?:who|he|she|they)(?:'ll|’ll|\s+will|\s+is going to|\s+are going to)\b",
)
SWEDISH = _Language(
    offer=r"\blåt (?:mig|oss)\s+",
    ask=r"[,:]?\s*(?:kan|skulle)\s+du\s+(?:(?:snälla|vänligen)\s+)?",
    subject=r"(?:\bjag\b|\bvi\b|\b\w+ och jag\b|^|(?<=[,;:!–—-])\s*)",
    modal=(r"\s*(?:\s(?:ska|skall|kommer att|kan|lovar att|tänker))?"
           r"(?:\s+(?:också|absolut|gärna|då|direkt))?\s*"),
    verbs=r"(?:" + _alt(*SV_VERBS) + r")[a-zåäö]*\b|" + SV_READY,
    receipt=r"\bni\s+(?:får|kommer att få)\b|\bär hos er\b",
    request=(r"\b(?:kan|skulle|hinner|vill)\s+(?:ni|du)\b|\bkan vi få\b|\bskulle det gå\b"
             r"|\bvore det möjligt\b|\bgärna\b|\bvänligen\b|\bbehöver\b|\bbehöva\b|\bmeddela\b"
             r"|\bse till\b|^\s*(?:skicka|dela|bekräfta|maila|mejla)\b"),
    negation=r"\b(?:inte|ej|aldrig|ingen|inget|inga|icke)\b",
    not_negation=r"\binte senare än\b|\binga problem\b|\bingen fara\b",
    # "om" is "if", except in "om 3 dagar" (in) and "tar hand om" (about)
    conditional=(r"(?<!\bhand )(?<!\bprata )(?<!\bpratar )(?<!\bhandlar )(?<!\bber )"
                 r"\bom\b(?!\s+(?:\d+|en|ett|två|tre|fyra|fem|sex|sju|åtta|nio|tio|några|"
                 r"ett par)\b)|\b(?:ifall|förutsatt|såvida|så länge|så fort|beroende på)\b"
                 r"|(?:^|,\s*)när\b"),
    hedge=(r"\b(?:kanske|möjligen|eventuellt|förhoppningsvis|skulle|kunde|borde|försöka|"
           r"försöker|försök|hoppas|tror|teorin|säg|funderar|troligen|antagligen)\b"),
    past=(r"\b(?:skickade|levererade|delade|mejlade|mailade|igår|förra|redan|sa|sade|lovade|"
          r"tänkte|hade|morse|gick|skickat|levererat|delat)\b|\bi går\b"
          r"|\bi (?:mån|tis|ons|tors|fre|lör|sön)dags\b"),
    # "Skickar du…" is a question even without its question mark
    question=r"\?\s*$|^\s*[a-zåäö]+r\s+(?:du|ni)\b",
    others=r"\b(?:som|han|hon|de)\s+(?:ska|skall|kommer att)\b",
)
CHINESE = _Language(
    offer=r"让我",
    ask=r"[,，:：]?\s*你.{0,14}?",
    subject=r"(?:我们这边|我这边|我们|咱们|我和\w{1,4}|我|^|(?<=[，,；;：:！!])\s*)",
    modal=r"(?:.{0,12}?)(?:会|将|要|可以|能|一定|保证|承诺|负责|来)?(?:在|于)?.{0,12}?",
    verbs=_alt(*ZH_VERBS),
    receipt=r"您.{0,10}会收到|发到您",
    request=r"请|麻烦|烦请|能否|能不能|可否|能.*吗|需要|希望|谁能|确保|帮忙|给我们?[，,。！!]|发我",
    negation=r"不|没|未|无法|别|来不及|赶不上|做不完|交不了",
    not_negation=r"没问题|不晚于|不迟于|不客气|不好意思",
    conditional=r"如果|要是|假如|假设|只要|一旦|万一|除非|的话|等收到|(?:^|，)等",
    hedge=r"也许|可能|或许|说不定|尽量|争取|希望|应该|考虑|理论上|理想|很想|觉得|估计|大概|想",
    past=(r"已经|已|昨天|上周|上个|前天|之前|本来|原定|原计划|说过|答应|曾|过了"
          r"|(?:发|交付|分享|上传|寄出|发出去|寄|提交|发过去|交)了"),
    question=r"[?？]\s*$|[吗呢么]\s*[。.!！]?\s*$",
    others=r"他们?会|她们?会",
)
LANGUAGES = {"en": ENGLISH, "sv": SWEDISH, "zh": CHINESE}

# Quoted earlier messages and the headers that introduce them: their promises were not made here.
QUOTE_HEADER = re.compile(
    r"^\s*(?:On .+ wrote:|Den .+ skrev\s*.*:|.+写道[:：]|From:.*|Från:.*|发件人[:：].*|"
    r"-{2,}\s*(?:Original Message|Ursprungligt meddelande|原始邮件)\s*-{2,}.*)\s*$",
    re.IGNORECASE,
)
# Meeting notes prefix their lines: "- ", "1.", "Action:", "AP:", "行动项："
BULLET = re.compile(
    r"^(?:\s*(?:[-*•·]|\d+[.)]|(?:action(?: item)?|ai|todo|ap|att göra|åtgärd|行动项|待办)"
    r"\s*[:：]))+\s*",
    re.IGNORECASE,
)
SENTENCE_END = {
    "zh": re.compile(r"(?<=[。！？!?；;])"),
    "en": re.compile(r"(?<=[.!?])\s+(?=[A-Z<@\"'“])|(?<=[!?])\s+|(?<=;)\s+"),
    "sv": re.compile(r"(?<=[.!?])\s+(?=[A-ZÅÄÖ<@\"'”])|(?<=[!?])\s+|(?<=;)\s+"),
}
# Where a sentence joins two promises: "…by Thursday and Bob will share…", "…，李伟周五前…"
CLAUSE = {
    "en": r"\s*[,;]?\s+(?:and|but|plus)\s+|\s*;\s*",
    "sv": r"\s*[,;]?\s+(?:och|men|samt)\s+|\s*;\s*",
    "zh": r"[，,；;]",
}
MENTION = re.compile(r"<@(\w+)(?:\|[^<>]*)?>")  # no `<` inside: linear on unclosed ones
LEADING_FILLER = re.compile(
    r"^(?:ok(?:ay)?|sure(?: thing)?|noted|got it|perfect|great|thanks|thank you|absolutely|"
    r"sounds good|happy to(?: help)?|no problem|will do|yes|uppfattat|tack|absolut|okej|"
    r"självklart|gärna|inga problem|låter bra|好的|好|收到|没问题|放心|可以|谢谢)\b"
    r"(?:\s+[A-ZÅÄÖ]\w*)?\s*[,.!;:，。！：\-–—]+\s*",
    re.IGNORECASE,
)


def sentences(text: str) -> list[str]:
    """The text's sentences, without quoted earlier messages: a reply is written above the
    header that introduces the message it answers, so reading stops there."""
    found: list[str] = []
    for line in text.splitlines():
        if QUOTE_HEADER.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        line = BULLET.sub("", line).strip()
        if not line:
            continue
        splitter = SENTENCE_END[detect_locale(line)]
        found.extend(part.strip() for part in splitter.split(line) if part.strip())
    return found


def detect(
    text: str,
    *,
    author: str | None,
    author_is_member: bool,
    client: str | None,
    now: datetime,
    calendar: BusinessCalendar,
    members: Sequence[Person] = (),
    client_names: Sequence[str] = (),
) -> list[Finding]:
    """Every commitment (the team's) and request (the client's) in `text`, in order.

    `author` is a member's email or a client contact's address (None: unknown, and so is
    the owner of an "I will"); `client` is the conversation's client and `calendar` its
    calendar, on which due moments are placed.
    """
    context = _Context(author, client, now, calendar, tuple(members),
                       tuple(name for name in (client, *client_names) if name))  # fmt: skip
    findings: list[Finding] = []
    for sentence in sentences(text):
        if author_is_member:
            findings.extend(_commitments(sentence, context))
        else:
            findings.extend(_requests(sentence, context))
    return findings


@dataclass(frozen=True)
class _Context:
    author: str | None
    client: str | None
    now: datetime
    calendar: BusinessCalendar
    members: tuple[Person, ...]
    known: tuple[str, ...]  # client names the resolver takes out of titles


def _commitments(sentence: str, context: _Context) -> list[Finding]:
    """The team's promises in one sentence: the sentence as a whole, or else each of its
    clauses ("I'll send the deck by Thursday and Bob will share the budget by Friday")."""
    language = detect_locale(sentence)
    rules = LANGUAGES[language]
    plain = _without_names(sentence, context.members)
    if _refused(plain, rules):
        return []
    if re.search(rules.question, sentence, re.IGNORECASE):
        # only "<@U123> can you send … by Friday?": a task handed to a member
        found = _commitment_in(sentence, sentence, context, language, asked=True)
        return [found] if found else []
    if _uncommitted(plain, rules):
        return []
    whole = _commitment_in(sentence, sentence, context, language, asked=False)
    if whole:
        return [whole]
    clauses = re.split(CLAUSE[language], sentence, flags=re.IGNORECASE)
    found = [_commitment_in(c, sentence, context, language, asked=False) for c in clauses]
    return [finding for finding in found if finding] if len(clauses) > 1 else []


def _commitment_in(words: str, sentence: str, context: _Context, language: str,
                   asked: bool) -> Finding | None:
    rules = LANGUAGES[language]
    resolution = _deadline(words, context, language)
    if resolution is None:
        return None
    if asked:
        owner_match = _assignment(words, rules, context.members)
    else:
        owner_match = _commitment(words, rules, context.members, language, resolution.matched)
    if owner_match is None:
        return None
    owner, verb, explicit = owner_match
    return Finding(
        kind=FindingKind.commitment,
        sentence=sentence,
        title=_title(resolution.title, rules, language, verb),
        owner=owner or context.author,
        client=resolution.client or context.client,
        due_at=resolution.due_at,
        confidence=round(0.7 + 0.1 * explicit + 0.1 * (not resolution.ambiguous), 2),
    )


def _requests(sentence: str, context: _Context) -> list[Finding]:
    """A client's sentence that asks for something by a deadline, or asks a question."""
    language = detect_locale(sentence)
    rules = LANGUAGES[language]
    plain = _without_names(sentence, context.members)
    question = bool(re.search(rules.question, sentence, re.IGNORECASE))
    resolution = _deadline(sentence, context, language)
    asks = bool(re.search(rules.request, plain, re.IGNORECASE))
    if not (question or (asks and resolution is not None and not _refused(plain, rules))):
        return []
    return [Finding(
        kind=FindingKind.request,
        sentence=sentence,
        title=_request_title(resolution.title if resolution else sentence),
        owner=_addressed(sentence, context.members) or context.author,
        client=(resolution.client if resolution else None) or context.client,
        due_at=resolution.due_at if resolution else None,
        confidence=0.8 if resolution is not None else 0.6,
    )]


def _deadline(words: str, context: _Context, language: str) -> Resolution | None:
    """The resolver's reading, or nothing when it refuses (none, two, past or half-understood)."""
    try:
        return resolve(words, now=context.now, calendar=context.calendar, locale=language,
                       client_names=context.known)
    except DeadlineError:
        return None


def _refused(text: str, rules: _Language) -> bool:
    """Negated or past: nobody asks for, or promises, what is denied or already done."""
    cleared = re.sub(rules.not_negation, " ", text, flags=re.IGNORECASE)
    return any(re.search(p, cleared, re.IGNORECASE) for p in (rules.negation, rules.past))


def _uncommitted(text: str, rules: _Language) -> bool:
    """A promise under a condition or a hedge is not a promise yet, nor one shared with
    someone outside the team in the same sentence."""
    return any(re.search(p, text, re.IGNORECASE)
               for p in (rules.conditional, rules.hedge, rules.others))


def _commitment(sentence: str, rules: _Language, members: Sequence[Person], language: str,
                deadline: str) -> tuple[str | None, str, bool] | None:
    """(owner's email, or None for the author; the promised verb; whether the subject was
    said outright) for a sentence in which the team commits to a deliverable."""
    flags = re.IGNORECASE
    for person, pattern in _named_subjects(members):
        found = re.search(rf"{pattern}{rules.modal}(?P<verb>{rules.verbs})", sentence, flags)
        # meeting notes name the owner first: "Erik: skickar offerten senast fredag"
        found = found or re.match(rf"\s*{pattern}\s*(?:[:–—]|\s-)\s*(?P<verb>{rules.verbs})",
                                  sentence, flags)  # fmt: skip
        if found:
            return person.email, found.group("verb"), True
    text = LEADING_FILLER.sub("", sentence.strip())
    found = re.search(rf"(?P<subject>{rules.subject}){rules.modal}(?P<verb>{rules.verbs})",
                      text, flags)  # fmt: skip
    if found:
        said = bool(re.search(r"\w", found.group("subject")))
        if language == "sv" and not said and not found.group("verb").endswith("r"):
            found = None  # "Skicka filerna": an instruction, not a promise
        elif language == "zh" and not _chinese_team(text, found.start("verb"), deadline):
            found = None
        if found:
            return None, found.group("verb"), said or language == "zh"
    offer = re.search(rf"{rules.offer}(?P<verb>{rules.verbs})", text, flags)
    if offer:
        return None, offer.group("verb"), True
    if language == "sv":  # Swedish puts the verb second: "Senast fredag skickar vi rapporten"
        inverted = re.search(rf"(?P<verb>{rules.verbs})\s+(?:vi|jag)\b", text, flags)
        if inverted:
            return None, inverted.group("verb"), True
    receipt = re.search(rules.receipt, text, flags)
    if receipt:
        return None, receipt.group(0), False
    return None


def _assignment(sentence: str, rules: _Language,
                members: Sequence[Person]) -> tuple[str | None, str, bool] | None:
    """A member addressed first and asked to deliver: "Erik, can you send the deck by Friday?"."""
    for person, pattern in _named_subjects(members):
        found = re.match(rf"\s*{pattern}{rules.ask}(?P<verb>{rules.verbs})", sentence,
                         re.IGNORECASE)  # fmt: skip
        if found:
            return person.email, found.group("verb"), True
    return None


def _chinese_team(text: str, verb: int, deadline: str) -> bool:
    """Chinese drops the subject freely: without 我/我们 before the verb, the action must go
    to the client ("发给您") or nothing but the deadline may come before the verb."""
    before = text[:verb]
    if re.search(r"他|她|客户|对方|供应商|公司|厂", before):
        return False
    if re.search(r"我(?!们?的)|咱们", before):
        return True
    if re.search(r"给您|发您|您邮箱|给大家|给贵司", text):
        return True
    return not re.sub(r"[前之以内在于会将要可以能\s，,]", "", before.replace(deadline, ""))


def _named_subjects(members: Sequence[Person]) -> list[tuple[Person, str]]:
    named = []
    for person in members:
        names = {person.name, person.name.split()[0]} if person.name.strip() else set()
        words = [re.escape(n) for n in sorted(names, key=len, reverse=True)]
        if person.slack_user_id:
            words.insert(0, rf"<@{re.escape(person.slack_user_id)}(?:\|[^<>]*)?>")
        if words:
            # no boundary after a Chinese name: "李伟周五前…" runs straight on
            named.append((person, rf"(?<![\w])(?:{'|'.join(words)})(?![A-Za-z])(?:'s|’s)?"))
    return named


def _without_names(sentence: str, members: Sequence[Person]) -> str:
    """Member names and mentions out, so "Don" or "Will" never read as a verb or a negation."""
    for _person, pattern in _named_subjects(members):
        sentence = re.sub(pattern, " ", sentence)
    return MENTION.sub(" ", sentence)


def _addressed(sentence: str, members: Sequence[Person]) -> str | None:
    for person, pattern in _named_subjects(members):
        if re.search(pattern, sentence):
            return person.email
    return None


def _title(rest: str, rules: _Language, language: str, verb: str) -> str:
    """The promised action, from its verb to the first comma, without the deadline and the
    client; in Chinese the thing handed over when 把 names it ("把报告发给您" → 报告)."""
    if language == "zh":
        held = re.search(rf"把(.+)(?:{rules.verbs})", rest)  # to the last verb: 把发票发给您
        if held:
            return re.sub(rf"(?:{rules.verbs})[好完出来]*$", "", held.group(1)).strip(" ，,")
    at = rest.find(verb) if verb else -1
    title = re.split(r"[,;:，；：。]", rest[at:] if at >= 0 else rest)[0]
    title = re.sub(r"(?:[\s.!]|\s(?:by|before|senast|innan|till)\b)+$", "", title).strip()
    return title[:1].upper() + title[1:]


REQUEST_OPENING = re.compile(
    r"^(?:(?:can|could|would|will)\s+(?:you|someone|anyone)(?:\s+be able to|\s+please)?|please|"
    r"any chance (?:you )?(?:could|can)|"
    r"kindly|(?:we|i)(?:'d| would)?\s+need|(?:kan|skulle)\s+(?:ni|du)|vänligen|請|请|麻烦|烦请|"
    r"能否|能不能|你们能)\s*",
    re.IGNORECASE,
)


def _request_title(rest: str) -> str:
    title = REQUEST_OPENING.sub("", LEADING_FILLER.sub("", rest.strip()))
    title = re.sub(r"[\s,.!;:?？。！，]+$", "", title)
    return title[:1].upper() + title[1:]
