"""Secrets out of the logs: sign-in links, calendar-feed addresses and bearer tokens.

A request path is a secret when it holds one (`/sign-in/link/<token>`, `/calendar/<token>.ics`,
a mailed suggestion's `/confirm/<token>`),
and access logs keep paths, including the ones no route answers (`//calendar/<token>`,
`?token=<token>`): the patterns are looser than the routes, so a mistyped or probing address
is redacted too. The filter rewrites each record's message and arguments in
place, so a formatter that reads the arguments (uvicorn's access log does) sees them redacted.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"
_SECRETS = re.compile(
    # the segment after a `calendar`, `link` or `confirm` segment, however many slashes: a
    # feed's or a link's secret, whatever the rest of the path (a route or not); a feed
    # keeps its `.ics`
    r"(?P<keep>/(?:calendar|link|confirm)/+)[^/?#\s\"']+?(?P<ics>\.ics)?(?=[/?#\s\"']|$)"
    # any query parameter whose name says token, key, secret, code or signature
    r"|(?P<param>[?&;][^=&#\s\"']*(?:token|key|secret|code|sig)[^=&#\s\"']*=)[^&#\s\"']*"
    r"|(?P<scheme>bearer\s+)\S+"  # an Authorization header's value
    r"|\brel_[A-Za-z0-9_-]+",  # a personal token wherever it appears
    re.IGNORECASE)
# uvicorn's loggers keep their records to themselves; ours reach the root logger's handlers.
LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    return _SECRETS.sub(lambda m: (m["keep"] or m["param"] or m["scheme"] or "") + REDACTED
                        + (m["ics"] or ""), text)


class RedactSecrets(logging.Filter):
    """Never drops a record; only blanks out the secrets in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v
                           for k, v in record.args.items()}
        return True


def redact_secrets_in_logs() -> None:
    """Install the filter once on the loggers and on the root logger's handlers, which see
    every record that propagates (a logger's own filter does not see its children's)."""
    targets: list[logging.Filterer] = [logging.getLogger(name) for name in LOGGERS]
    targets += logging.getLogger().handlers
    for target in targets:
        if not any(isinstance(f, RedactSecrets) for f in target.filters):
            target.addFilter(RedactSecrets())
