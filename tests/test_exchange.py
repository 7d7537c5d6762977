"""Export and import: everything a team needs to leave, nothing secret, safe in a
spreadsheet, streamed, and restored whole into an empty database on either backend."""

import csv
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import Cli, CliResult
from helpers import at
from scenarios import MONDAY_9, START, q3_report, tick
from sqlmodel import SQLModel
from typer.testing import CliRunner

from reliability import exchange, suggestions
from reliability.access import Actor
from reliability.cli import app
from reliability.commitments import Finding, FindingKind
from reliability.db import make_engine
from reliability.demo import Demo
from reliability.ledger import Ledger
from reliability.members import calendar_token, issue_personal_token, token_hash
from reliability.mistakes import log_mistake
from reliability.models import Source
from reliability.ratings import add_rating

SECRET_WORDS = ("token", "secret", "hash", "password", "session", "nonce")
FORMULAS = ["=HYPERLINK(\"http://evil.example\")", "+1 555 0100", "-2+3", "@SUM(A1:A2)",
            "'quoted"]


def cli_on(url: str, *args: str) -> CliResult:
    result = CliRunner().invoke(app, ["--db", url, *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return CliResult(result.exit_code, result.stdout, result.stderr)


def row_counts(url: str) -> dict[str, int]:
    """Rows per table, the tables worked out from the others (`exchange.DERIVED`) aside."""
    engine = make_engine(url)
    with engine.connect() as connection:
        counts = {table.name: connection.execute(
            sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in SQLModel.metadata.sorted_tables
            if table.name not in exchange.DERIVED}
    engine.dispose()
    return counts


def export_bytes(path: Path) -> bytes:
    if path.is_dir():
        return b"".join(p.read_bytes() for p in sorted(path.iterdir()))
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return b"".join(archive.read(name) for name in archive.namelist())
    return path.read_bytes()


# -- what leaves --------------------------------------------------------------------------


def test_every_table_is_either_exported_or_excluded_with_its_secrets_named() -> None:
    tables = set(SQLModel.metadata.tables)
    decided = (exchange.EXPORTED.keys(), exchange.EXCLUDED.keys(), exchange.DERIVED.keys())
    assert tables == set().union(*decided), (
        "a new table needs an export decision in exchange.EXPORTED, EXCLUDED or DERIVED")
    assert sum(map(len, decided)) == len(tables), "a table has one decision"
    for name, withheld in exchange.EXPORTED.items():
        table = SQLModel.metadata.tables[name]
        assert withheld <= set(table.columns.keys())
        secret_looking = {c.name for c in table.columns
                          if any(word in c.name for word in SECRET_WORDS)}
        assert secret_looking <= withheld, f"{name}: is {secret_looking - withheld} a secret?"


def test_an_export_refuses_to_run_while_a_table_has_no_decision(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(exchange, "EXPORTED", {k: v for k, v in exchange.EXPORTED.items()
                                               if k != "rating"})
    with pytest.raises(exchange.ExportPolicyError, match="rating"):
        exchange.exported_tables()


@pytest.fixture
def busy(agency: Ledger) -> dict[str, str]:
    """Acme's Q3 report assessed and checked in on, a mistake, a rating, and both of Alice's
    sign-in secrets issued."""
    promise_id = q3_report(agency)
    agency.check_in(promise_id, status="at_risk", note="waiting on data", now=MONDAY_9,
                    actor="alice@example.com")
    tick(agency, MONDAY_9 + timedelta(days=1))
    log_mistake(agency, client_name="Acme", summary="Wrong figures sent",
                prevention="Two people check the figures", now=MONDAY_9, actor="t",
                owner_email="alice@example.com", prevention_due_at=MONDAY_9 + timedelta(days=3))
    add_rating(agency, client_name="Acme", overall=4, to_make_it_5="faster replies",
               now=MONDAY_9, actor="t")
    token = issue_personal_token(agency, "alice@example.com", now=START, actor="t")
    with agency.session() as session:
        alice = agency.find_member(session, "alice@example.com").id or 0
    feed = calendar_token(agency, alice, now=START, actor="t")
    return {"token": token, "hash": token_hash(token), "calendar": feed}


@pytest.mark.parametrize("out", ["everything.jsonl", "everything", "everything.zip"])
def test_the_export_holds_every_table_and_no_secret(
    cli: Cli, busy: dict[str, str], tmp_path: Path, out: str,
) -> None:
    target = tmp_path / out
    fmt = "json" if out.endswith(".jsonl") else "csv"
    result = cli("export", "--format", fmt, "--out", str(target))
    assert result.exit_code == 0, result.stderr
    assert "exported" in result.stdout
    data = export_bytes(target)
    for secret in busy.values():
        assert secret.encode() not in data
    assert b"token_hash" not in data and b"calendar_token\"" not in data
    for table in ("notice", "notice_attempt", "mistake", "rating", "assessment", "event",
                  "checkin", "due_change", "promise", "member", "client"):
        assert table.encode() in data


def test_json_lines_carry_lists_and_objects_as_json_and_moments_in_utc(
    cli: Cli, busy: dict[str, str],
) -> None:
    lines = [json.loads(line) for line in cli("export").stdout.splitlines()]
    header, rows = lines[0], lines[1:]
    assert header["format"] == "reliability-export" and header["version"] == 1
    by_table: dict[str, list[dict]] = {}
    for line in rows:
        by_table.setdefault(line["table"], []).append(line["row"])
    assert set(by_table) >= {"client", "member", "promise", "checkin", "event", "assessment",
                             "notice", "mistake", "rating"}
    q3 = by_table["promise"][0]
    assert q3["due_at"] == "2026-11-20T22:00:00+00:00"
    assert isinstance(q3["risk_reasons"], list) and q3["risk_reasons"]
    assert isinstance(by_table["event"][0]["payload"], dict)
    assert all("token_hash" not in member for member in by_table["member"])


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised_and_restored_on_import(
    cli: Cli, agency: Ledger, tmp_path: Path, fresh: str,
) -> None:
    for index, text in enumerate(FORMULAS):
        agency.add_promise(title=text, client_name="Acme", owner_email="alice@example.com",
                           due_at=at("2026-11-20T17:00-05:00") + timedelta(days=index),
                           now=MONDAY_9, actor="t")
    assert cli("export", "--format", "csv", "--out", str(tmp_path / "csv")).exit_code == 0
    with (tmp_path / "csv" / "promise.csv").open(newline="", encoding="utf-8") as handle:
        titles = [row["title"] for row in csv.DictReader(handle)]
    assert titles == ["'" + text for text in FORMULAS]
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in titles)

    assert cli_on(fresh, "import", str(tmp_path / "csv")).exit_code == 0
    lines = [json.loads(line) for line in cli_on(fresh, "export").stdout.splitlines()[1:]]
    assert [r["row"]["title"] for r in lines if r["table"] == "promise"] == FORMULAS


@pytest.mark.parametrize("value, cell", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("'x", "''x"), ("a=b", "a=b"), (-1.5, "-1.5"), (None, ""),
    (True, "true"), (["a", "b"], '["a", "b"]'), ({"k": 1}, '{"k": 1}'),
])
def test_a_csv_cell_is_never_a_formula(value: object, cell: str) -> None:
    assert exchange.csv_cell(value) == cell


# -- coming back --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def demo_week(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The demo's week, played headless, with a mistake, a rating and sign-in secrets on top."""
    folder = tmp_path_factory.mktemp("demo")
    week = Demo(folder, say=lambda _line: None)
    week.play()
    friday = at("2026-11-20T18:00-05:00")
    log_mistake(week.ledger, client_name="Acme Analytics", summary="Sent last month's figures",
                prevention="A second pair of eyes on every report", now=friday, actor="t",
                owner_email="alice@agency.example", prevention_due_at=friday + timedelta(days=5))
    log_mistake(week.ledger, client_name="Acme Analytics", summary="Sent last month's figures",
                prevention="A checklist", now=friday, actor="t",
                owner_email="alice@agency.example", prevention_due_at=friday + timedelta(days=6))
    add_rating(week.ledger, client_name="Acme Analytics", overall=4, would_continue=5,
               to_make_it_5="=fewer surprises", now=friday, actor="t")
    issue_personal_token(week.ledger, "alice@agency.example", now=friday, actor="t")
    week.engine.dispose()
    return week.settings.database.url


REPORT = ["--as-of", "2026-11-20T18:00:00-05:00", "report", "--by", "owner", "--from",
          "2026-10-05", "--to", "2026-11-20", "--json"]


# What the figures keep beside the events (migration 0022), and the tables they are kept in.
KEPT = {"client": ("promises_made", "first_promise_at", "last_promise_at"),
        "promise": ("client_told_at", "client_told_due_at"), "notice": ("answered_at",)}


def kept_facts(url: str) -> dict[str, list[tuple]]:
    engine = make_engine(url)
    with engine.connect() as connection:
        tables = SQLModel.metadata.tables
        kept = {name: [tuple(row) for row in connection.execute(
            sa.select(tables[name].c.id, *(tables[name].c[column] for column in columns))
            .order_by(tables[name].c.id))]
            for name, columns in KEPT.items()}
    engine.dispose()
    return kept


def test_an_export_made_before_the_figures_kept_facts_imports_with_them_worked_out(
    demo_week: str, fresh: str, tmp_path: Path,
) -> None:
    """An export from a version before migration 0022 has none of the kept facts: imported
    as it is, every client would have made no promise, no client would ever have heard of a
    slip and no check-in request would have been answered. The import works them out from
    the rows they summarise, as `recount` does, and records nothing more."""
    current = tmp_path / "now.jsonl"
    assert cli_on(demo_week, "export", "--out", str(current)).exit_code == 0
    header, *lines = current.read_text(encoding="utf-8").splitlines()
    older = tmp_path / "before-0022.jsonl"
    rows = []
    for line in lines:
        item = json.loads(line)
        for column in KEPT.get(item["table"], ()):
            del item["row"][column]
        rows.append(json.dumps(item, ensure_ascii=False))
    older.write_text("\n".join([header.replace(exchange.head_revision(), "0021"), *rows])
                     + "\n", encoding="utf-8")

    imported = cli_on(fresh, "import", str(older))

    assert imported.exit_code == 0, imported.stderr
    expected = kept_facts(demo_week)
    assert any(told for _, told, _ in expected["promise"])
    assert any(answered for _, answered in expected["notice"])
    assert kept_facts(fresh) == expected
    assert row_counts(fresh) == row_counts(demo_week)


@pytest.mark.parametrize("out", ["demo.jsonl", "demo-csv", "demo.zip"])
def test_the_demos_week_exported_and_imported_reports_the_same(
    demo_week: str, fresh: str, tmp_path: Path, out: str,
) -> None:
    target = tmp_path / out
    fmt = "json" if out.endswith(".jsonl") else "csv"
    assert cli_on(demo_week, "export", "--format", fmt, "--out", str(target)).exit_code == 0

    imported = cli_on(fresh, "import", str(target))
    assert imported.exit_code == 0, imported.stderr
    original = row_counts(demo_week)
    assert original["notice_attempt"] and original["assessment"] and original["mistake"]
    assert row_counts(fresh) == original
    report = cli_on(fresh, *REPORT)
    assert report.exit_code == 0, report.stderr
    assert json.loads(report.stdout) == json.loads(cli_on(demo_week, *REPORT).stdout)
    assert json.loads(report.stdout)["groups"]
    assert cli_on(fresh, "export").stdout == cli_on(demo_week, "export").stdout

    # Ids go on from the highest imported, on PostgreSQL too.
    added = cli_on(fresh, "client", "add", "Globex", "--email", "g@globex.example")
    assert added.exit_code == 0, added.stderr
    assert row_counts(fresh)["client"] == original["client"] + 1


def test_an_import_into_a_database_that_holds_data_is_refused_and_writes_nothing(
    cli: Cli, agency: Ledger, tmp_path: Path, demo_week: str, database_url: str,
) -> None:
    assert cli_on(demo_week, "export", "--out", str(tmp_path / "demo.jsonl")).exit_code == 0
    before = row_counts(database_url)
    result = cli("import", str(tmp_path / "demo.jsonl"))
    assert result.exit_code == 2
    assert "already holds data" in result.stderr and "Traceback" not in result.stderr
    assert row_counts(database_url) == before


def test_a_broken_export_is_refused_with_its_line_and_nothing_is_written(
    cli: Cli, busy: dict[str, str], tmp_path: Path, fresh: str,
) -> None:
    lines = cli("export").stdout.splitlines()
    promise_line = next(i for i, line in enumerate(lines) if '"table": "promise"' in line)
    broken = [*lines[:promise_line], '{"table": "promise", "row": {"id": 1, "due_at": "x"}}']
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join(broken + lines[promise_line + 1:]) + "\n", encoding="utf-8")
    result = cli_on(fresh, "import", str(path))
    assert result.exit_code == 2
    assert "promise, row 1, column due_at" in result.stderr
    assert sum(row_counts(fresh).values()) == 0


def test_a_moment_beyond_the_year_9999_in_utc_is_refused_with_its_row_and_nothing_is_written(
    cli: Cli, busy: dict[str, str], tmp_path: Path, fresh: str,
) -> None:
    lines = cli("export").stdout.splitlines()
    promise_line = next(i for i, line in enumerate(lines) if '"table": "promise"' in line)
    record = json.loads(lines[promise_line])
    record["row"]["due_at"] = "9999-12-31T23:59:59-12:00"  # in UTC, the year 10000
    lines[promise_line] = json.dumps(record)
    path = tmp_path / "far.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = cli_on(fresh, "import", str(path))
    assert result.exit_code == 2, result.stderr
    assert "promise, row 1, column due_at" in result.stderr  # the first promise line
    assert "outside the years 1 to 9999 in UTC" in result.stderr
    assert "Traceback" not in result.stderr
    assert sum(row_counts(fresh).values()) == 0


@pytest.mark.parametrize("content, message", [
    ("", "is not a reliability export"),
    ('{"format": "reliability-export", "version": 9}\n', "format version 9"),
    ('{"format": "reliability-export", "version": 1}\nnot json\n', "line 2"),
    ('{"format": "reliability-export", "version": 1}\n{"table": "client", "row": 5}\n',
     "line 2"),
    ('{"format": "reliability-export", "version": 1}\n'
     '{"table": "sessions", "row": {}}\n', "'sessions'"),
])
def test_what_is_not_an_export_is_one_clear_message(
    cli: Cli, tmp_path: Path, content: str, message: str,
) -> None:
    path = tmp_path / "not-an-export.jsonl"
    path.write_text(content, encoding="utf-8")
    result = cli("import", str(path))
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_file_that_is_not_text_is_one_clear_message(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)))
    result = cli("import", str(path))
    assert result.exit_code == 2 and "is not a readable reliability export" in result.stderr


def test_an_export_never_overwrites_and_leaves_nothing_half_written(
    cli: Cli, agency: Ledger, tmp_path: Path,
) -> None:
    (tmp_path / "taken.jsonl").write_text("keep me", encoding="utf-8")
    result = cli("export", "--out", str(tmp_path / "taken.jsonl"))
    assert result.exit_code == 2 and "already exists" in result.stderr
    assert (tmp_path / "taken.jsonl").read_text(encoding="utf-8") == "keep me"
    assert cli("export", "--format", "csv").exit_code == 2
    (tmp_path / "empty").mkdir()
    assert cli("export", "--out", str(tmp_path / "empty")).exit_code == 2
    assert cli("export", "--format", "csv", "--out", str(tmp_path / "empty")).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert (tmp_path / "empty" / "manifest.json").exists()



def test_watched_channels_and_offers_move_without_their_secrets_or_quoted_words(
    cli: Cli, agency: Ledger, tmp_path: Path, fresh: str,
) -> None:
    alice = agency.link_slack_user(email="alice@example.com", slack_user_id="UALICE",
                                   name="Alice", timezone=None, now=MONDAY_9, actor="t")
    suggestions.watch(agency, channel_id="C0000GENERAL", client_name="Acme",
                      actor=Actor.of(alice), now=MONDAY_9)
    finding = Finding(kind=FindingKind.commitment, sentence="I'll send the deck by Friday.",
                      title="Send the deck", owner="alice@example.com", client="Acme",
                      due_at=at("2026-11-20T17:00-05:00"), confidence=0.9)
    assert suggestions.offer(agency, finding, member_email="alice@example.com",
                             source=Source.email, origin_key="mail:1", now=MONDAY_9,
                             with_link=True) is not None
    assert cli("export", "--out", str(tmp_path / "out.jsonl")).exit_code == 0
    assert cli_on(fresh, "import", str(tmp_path / "out.jsonl")).exit_code == 0
    rows = [json.loads(line) for line in cli_on(fresh, "export").stdout.splitlines()[1:]]
    [watched] = [r["row"] for r in rows if r["table"] == "watched_channel"]
    [offered] = [r["row"] for r in rows if r["table"] == "suggestion"]
    assert watched["slack_channel_id"] == "C0000GENERAL"
    assert offered["title"] == "Send the deck"
    assert "token_hash" not in offered and "sentence" not in offered
