"""How fast the inbox reads mail: parsing the test .eml files, and one IMAP round over 100
client requests in a private Dovecot (SQLite), then the round after it.

    python bench/bench_inbox.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from reliability import inbox
from reliability.config import Settings
from reliability.db import make_engine, upgrade
from reliability.ledger import Ledger
from reliability.mail import parse
from tests.helpers import at
from tests.servers.imap import dovecot_server

MAIL = Path(__file__).resolve().parents[1] / "tests" / "mail"
NOW = at("2026-11-16T09:30-05:00")


def main() -> None:
    files = [path.read_bytes() for path in sorted(MAIL.glob("*.eml"))]
    started = time.perf_counter()
    for _ in range(100):
        for raw in files:
            parse(raw)
    took = time.perf_counter() - started
    count = 100 * len(files)
    print(f"parse: {count} messages in {took:.2f} s ({1000 * took / count:.1f} ms each)")
    settings = Settings()
    settings.database.url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    engine = make_engine(settings.database.url)
    upgrade(engine)
    ledger = Ledger(engine, settings)
    ledger.add_client(name="Acme", email="dana@acme.example", timezone="America/New_York",
                      country="US", now=NOW, actor="bench")
    ledger.add_member(email="alice@example.com", name="Alice", timezone="America/New_York",
                      now=NOW, actor="bench")
    request = (MAIL / "plain_request.eml").read_bytes()
    with dovecot_server() as imap:
        folder = imap.new_folder()
        ledger.settings.inbox = imap.settings(folder)
        with imap.client() as client:
            for index in range(100):
                client.append(folder, request.replace(b"plain-request-1", b"bench-%d" % index)
                              .replace(b"invoice copies", b"invoice copies %d" % index))
        started = time.perf_counter()
        first = inbox.poll(ledger, now=NOW)
        took = time.perf_counter() - started
        started = time.perf_counter()
        again = inbox.poll(ledger, now=NOW)
        second = time.perf_counter() - started
    offers = sum(len(receipt.offers) for receipt in first)
    print(f"IMAP round: {len(first)} messages, {offers} offers in {took:.2f} s "
          f"({1000 * took / len(first):.0f} ms each); next round: {len(again)} read in "
          f"{1000 * second:.0f} ms")


if __name__ == "__main__":
    main()
