"""Bounds on every input: far dates, long text, control characters and huge ids are refused
with one clear message, the same on SQLite and PostgreSQL, wherever they come in."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import Cli
from fastapi import FastAPI
from fastapi.testclient import TestClient
from helpers import at
from scenarios import FRIDAY_5PM, MONDAY_9, q3_report
from sqlmodel import Session, select
from web_helpers import app_for, csrf_of, signed_in, token_for, wednesday_agency

from reliability.config import Settings, load_settings
from reliability.errors import UserError
from reliability.ledger import Ledger
from reliability.models import Notice

AS_OF = "2026-11-23T10:00-05:00"
README = Path(__file__).resolve().parents[1] / "README.md"
LIMITS_DOC = Path(__file__).resolve().parents[1] / "docs" / "limits.md"


# -- the ledger: the rules every interface reaches -----------------------------------------


def test_a_due_date_in_the_year_9999_is_refused(agency: Ledger) -> None:
    with pytest.raises(UserError, match=r"Fri 31 Dec 9999 is more than 5 years ahead: give a "
                                        r"date up to Sun 16 Nov 2031"):
        agency.add_promise(title="Q3 report", client_name="Acme", owner_email="alice@example.com",
                           due_at=at("9999-12-31T17:00-05:00"), now=MONDAY_9, actor="t")
    assert agency.promises() == []


def test_a_due_date_just_inside_the_horizon_is_kept(agency: Ledger) -> None:
    view = agency.add_promise(title="Retainer review", client_name="Acme",
                              owner_email="alice@example.com",
                              due_at=MONDAY_9.replace(year=2031) - timedelta(minutes=1),
                              now=MONDAY_9, actor="t")
    assert view.promise.due_at.year == 2031


def test_the_horizon_is_a_setting(agency: Ledger) -> None:
    agency.settings.policy.due_horizon_years = 10
    view = agency.add_promise(title="Ten-year plan", client_name="Acme",
                              owner_email="alice@example.com", due_at=at("2035-06-01T17:00-04:00"),
                              now=MONDAY_9, actor="t")
    assert view.promise.due_at.year == 2035


def test_moving_a_promise_past_the_horizon_is_refused(agency: Ledger) -> None:
    promise_id = q3_report(agency)
    with pytest.raises(UserError, match="more than 5 years ahead"):
        agency.move(promise_id, due_at=at("2040-01-01T17:00-05:00"), reason="later",
                    now=MONDAY_9, actor="t")
    assert agency.history(promise_id).view.promise.due_at == FRIDAY_5PM


@pytest.mark.parametrize("name", ["Ac\x00me", "Acme\x1b[31m", "Ac\nme"])
def test_a_control_character_in_a_client_name_is_refused_on_both_backends(
    ledger: Ledger, name: str,
) -> None:
    with pytest.raises(UserError, match=r"the client name contains a control character, "
                                        r"U\+00[01][0-9A-F].*: remove it"):
        ledger.add_client(name=name, email="dana@acme.example", now=MONDAY_9, actor="t")
    assert ledger.clients() == []


@pytest.mark.parametrize(("field", "char"), [
    ("client name", "\u200b"), ("member name", "\u200b"), ("client name", "\u202e"),
    ("promise title", "\u202e"), ("member name", "\u2066"), ("client name", "\ufeff"),
    ("promise title", "\u200f"), ("member name", "\u2060"),
])
def test_an_invisible_character_that_changes_how_a_name_displays_is_refused(
        agency: Ledger, field: str, char: str) -> None:
    """"Erin\u200b" would show exactly like the admin Erin; U+202E turns text around."""
    with pytest.raises(UserError, match=rf"the {field} contains an invisible character, "
                                        rf"U\+{ord(char):04X} \(.+\), at character 5: "
                                        "remove it"):
        if field == "client name":
            agency.add_client(name=f"Acme{char}", email="a@b.example", now=MONDAY_9, actor="t")
        elif field == "member name":
            agency.add_member(email="erin2@example.com", name=f"Erin{char}", now=MONDAY_9,
                              actor="t")
        else:
            agency.add_promise(title=f"Plan{char}", client_name="Acme",
                               owner_email="alice@example.com", due_at=FRIDAY_5PM,
                               now=MONDAY_9, actor="t")
    assert [c.name for c in agency.clients()] == ["Acme"] and len(agency.members()) == 2


def test_joiners_that_scripts_and_emoji_need_are_kept_in_names(agency: Ledger) -> None:
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # a ZWNJ inside
    for name in (persian, "Team \U0001f469\u200d\U0001f4bb"):
        assert agency.add_client(name=name, email="a@b.example", now=MONDAY_9,
                                 actor="t").name == name


@pytest.mark.parametrize("twin", ["\uff21cme", "ACME", "\uff41\uff43\uff4d\uff45"])
def test_a_client_that_only_looks_different_is_the_same_client(
        agency: Ledger, twin: str) -> None:
    with pytest.raises(UserError, match="a client called 'Acme' already exists"):
        agency.add_client(name=twin, email="a@b.example", now=MONDAY_9, actor="t")
    with agency.session() as session:
        assert agency.find_client(session, twin).name == "Acme"


def test_a_100000_character_client_name_is_refused(ledger: Ledger) -> None:
    with pytest.raises(UserError, match="the client name is 100,000 characters long: keep it "
                                        "to 200 at most"):
        ledger.add_client(name="A" * 100_000, email="dana@acme.example", now=MONDAY_9,
                          actor="t")


def test_looking_up_a_client_or_member_with_a_nul_is_a_user_error(agency: Ledger) -> None:
    with agency.session() as session:
        with pytest.raises(UserError, match="client name contains a control character"):
            agency.find_client(session, "Ac\x00me")
        with pytest.raises(UserError, match="email address contains a control character"):
            agency.find_member(session, "alice\x00@example.com")


def test_a_nul_in_a_check_in_note_or_a_reason_is_refused(agency: Ledger) -> None:
    promise_id = q3_report(agency)
    with pytest.raises(UserError, match="check-in note contains a control character"):
        agency.check_in(promise_id, status="at_risk", note="wait\x00ing", now=MONDAY_9,
                        actor="t")
    with pytest.raises(UserError, match="reason contains a control character"):
        agency.cancel(promise_id, reason="no\x00", now=MONDAY_9, actor="t")
    assert agency.history(promise_id).checkins == []


def test_a_promise_title_longer_than_500_characters_is_refused_not_cut(agency: Ledger) -> None:
    with pytest.raises(UserError, match="the promise title is 501 characters long"):
        agency.add_promise(title="x" * 501, client_name="Acme", owner_email="alice@example.com",
                           due_at=FRIDAY_5PM, now=MONDAY_9, actor="t")


@pytest.mark.parametrize("promise_id", [0, -1, 2**31, 10**20])
def test_an_id_out_of_range_is_no_such_promise(agency: Ledger, promise_id: int) -> None:
    with pytest.raises(UserError, match=r"there is no promise #-?\d+: ids are whole numbers "
                                        r"from 1 to 2,147,483,647"):
        agency.history(promise_id)


def test_the_horizon_setting_is_in_the_example_config(tmp_path: Path) -> None:
    config = tmp_path / "reliability.toml"
    config.write_text("[policy]\ndue_horizon_years = 2\n", encoding="utf-8")
    assert load_settings(config).policy.due_horizon_years == 2
    example = (README.parent / "config.example.toml").read_text(encoding="utf-8")
    assert "due_horizon_years = 5" in example
    assert Settings().policy.due_horizon_years == 5


def test_every_text_limit_is_documented_with_its_maximum() -> None:
    from reliability.limits import MAX_ID, TEXT

    table = LIMITS_DOC.read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| ([^|]+?) \| ([\d,]+) characters \|", table, re.MULTILINE))
    assert rows == {field: f"{limit.maximum:,}" for field, limit in TEXT.items()}
    assert f"{MAX_ID:,}" in table
    assert "docs/limits.md" in README.read_text(encoding="utf-8")


# -- the CLI: every bad input is exit 2 and one line, never a traceback --------------------


@pytest.fixture
def team(cli: Cli) -> Cli:
    assert cli("init").exit_code == 0
    assert cli("client", "add", "Acme", "--email", "dana@acme.example", "--timezone",
               "America/New_York").exit_code == 0
    assert cli("member", "add", "alice@example.com", "--name", "Alice").exit_code == 0
    return cli


def refused(result: object, message: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)  # type: ignore[attr-defined]
    stderr = result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr and "internal error" not in stderr
    assert message in stderr, stderr


def test_cli_refuses_a_due_date_in_9999(team: Cli) -> None:
    refused(team("promise", "add", "Q3 report", "--client", "Acme", "--owner",
                 "alice@example.com", "--due", "9999-12-31", as_of=AS_OF),
            "is more than 5 years ahead")
    assert team("promise", "list", "--json").stdout.strip() == "[]"


def test_cli_with_due_and_no_client_asks_for_the_client(team: Cli) -> None:
    refused(team("promise", "add", "x for Globex", "--owner", "alice@example.com", "--due",
                 "Wednesday", as_of=AS_OF), "--client NAME")


def test_cli_a_huge_promise_id_is_no_such_promise(team: Cli) -> None:
    refused(team("promise", "show", "99999999999999999999"), "there is no promise #")


def test_cli_when_a_number_of_days_beyond_any_calendar(team: Cli) -> None:
    refused(team("when", "in 99999999999 days", as_of=AS_OF), "further ahead than any calendar")
    refused(team("when", "Dec 31 9999", as_of=AS_OF), "more than 5 years ahead")


def test_cli_a_text_file_that_is_not_utf8(team: Cli, tmp_path: Path) -> None:
    latin1 = tmp_path / "draft.txt"
    latin1.write_bytes("Hej, vi är sena".encode("latin-1"))
    refused(team("drafts", "edit", "1", "--text-file", str(latin1)), "is not UTF-8 text")


@pytest.mark.parametrize(("url", "message"), [
    ("garbage://", "'garbage://' is not a database reliability works with"),
    ("mysql://u:secret@db/x", "'mysql://u:***@db/x' is not a database reliability works with"),
    ("http://[::1", "'http://[::1' is not a database URL"),
])
def test_cli_a_database_url_of_no_known_kind(url: str, message: str) -> None:
    from typer.testing import CliRunner

    from reliability.cli import app

    refused(CliRunner().invoke(app, ["--db", url, "client", "list"]), message)


@pytest.mark.parametrize("command", [["client", "list"], ["init"]])
def test_cli_a_file_that_is_not_a_database(tmp_path: Path, command: list[str]) -> None:
    from typer.testing import CliRunner

    from reliability.cli import app

    notes = tmp_path / "x.txt"
    notes.write_text("not a database, just notes\n" * 100, encoding="utf-8")
    refused(CliRunner().invoke(app, ["--db", f"sqlite:///{notes}", *command]),
            "cannot open the database: file is not a database")
    assert notes.read_text(encoding="utf-8").startswith("not a database")


def test_cli_an_export_folder_that_cannot_be_written(team: Cli) -> None:
    refused(team("export", "--out", "/proc/nope"), "cannot use /proc/")


def test_cli_a_backtest_file_with_a_field_too_long_for_csv(team: Cli, tmp_path: Path) -> None:
    history = tmp_path / "history.csv"
    history.write_text("id,owner,client,made_at,due_at,done_at\n1," + "x" * 200_000 + "\n",
                       encoding="utf-8")
    refused(team("backtest", str(history)), "is not a CSV file that can be read")


def test_cli_a_file_name_too_long_for_the_system(team: Cli) -> None:
    refused(team("backtest", "x" * 100_000), "File name too long")


def test_cli_a_100000_character_client_name(team: Cli) -> None:
    refused(team("client", "add", "A" * 100_000, "--email", "x@example.com"),
            "the client name is 100,000 characters long")


def test_cli_an_argument_that_is_not_utf8(team: Cli) -> None:
    # A byte like 0xFF in argv reaches Python as a lone surrogate, which nothing can store.
    refused(team("promise", "acknowledge", "Logo \udcff", "--client", "Acme", "--owner",
                 "alice@example.com", "--reply-by", "2026-11-27", as_of=AS_OF),
            "the request summary is not UTF-8 text (a stray byte at character 6)")
    refused(team("digest", "--manager", "\udcff"), "the email address is not UTF-8 text")


def test_cli_a_nul_in_a_client_filter(team: Cli) -> None:
    refused(team("promise", "list", "--client", "Ac\x00me"),
            "the client name contains a control character, U+0000 (NUL)")


# -- the web: a control character anywhere is a 400, never a 500 --------------------------


@pytest.fixture
def web_agency(ledger: Ledger) -> Ledger:
    return wednesday_agency(ledger)


@pytest.fixture
def app(web_agency: Ledger) -> FastAPI:
    return app_for(web_agency)


@pytest.mark.parametrize("address", ["/calendar/a%00b.ics", "/calendar/a%1Bb/team.ics",
                                     "/sign-in?next=/%00", "/promises?status=open%00"])
def test_a_control_character_in_an_address_is_a_400_without_sign_in(
    app: FastAPI, address: str,
) -> None:
    response = TestClient(app).get(address)
    assert response.status_code == 400
    assert "contains a control character" in response.text


def test_a_nul_in_an_api_query_or_json_field_is_a_400_in_the_api_error_shape(
    app: FastAPI, web_agency: Ledger,
) -> None:
    client = TestClient(app, headers={
        "Authorization": f"Bearer {token_for(web_agency, 'bob@example.com')}"})
    response = client.get("/api/promises", params={"q": "Q3\x00"})
    assert response.status_code == 400
    assert response.json() == {"error": {
        "code": "bad_request", "message": "the query string contains a control character, "
                                          "U+0000 (NUL): remove it and try again",
        "field": None, "hint": None}}
    draft = delay_draft(web_agency)
    cancel = client.post(f"/api/drafts/{draft.id}/cancel", json={"reason": "no\x00"})
    assert cancel.status_code == 400
    assert ("the field 'reason' contains a control character"
            in cancel.json()["error"]["message"])
    assert delay_draft(web_agency).status == "draft"


@pytest.mark.parametrize(("body", "status", "words"), [
    ('{"reason":"\\ud800"}', 400, "the field 'reason' is not UTF-8 text"),
    ('{"reason":' + "[" * 50_000 + "]" * 50_000 + "}", 400, "nested more than 32 deep"),
    ('{"reason":1e999999}', 400, "a number too large"),
    ('{"reason":NaN}', 400, "a number too large"),
    ('{"reason":', 422, ""),
])
def test_an_odd_json_body_on_the_api_is_a_json_refusal_never_a_500(
    app: FastAPI, web_agency: Ledger, body: str, status: int, words: str,
) -> None:
    client = TestClient(app, raise_server_exceptions=False, headers={
        "Authorization": f"Bearer {token_for(web_agency, 'bob@example.com')}",
        "Content-Type": "application/json"})
    draft = delay_draft(web_agency)
    response = client.post(f"/api/drafts/{draft.id}/cancel", content=body.encode())
    assert response.status_code == status, response.text
    assert words in response.json()["error"]["message"]
    assert delay_draft(web_agency).status == "draft"


def test_a_nul_in_the_sign_in_email_is_a_400(app: FastAPI) -> None:
    client = TestClient(app)
    page = client.get("/sign-in")
    response = client.post("/sign-in/email", data={"email": "bob\x00@example.com",
                                                   "csrf_token": csrf_of(page.text)})
    assert response.status_code == 400
    assert "the field 'email' contains a control character, U+0000 (NUL)" in response.text


def test_a_nul_in_the_rating_form_is_a_400_and_nothing_is_stored(app: FastAPI,
                                                                   web_agency: Ledger) -> None:
    bob = signed_in(app, web_agency, "bob@example.com")
    page = bob.get("/clients/1").text
    response = bob.post("/clients/1/ratings", data={
        "csrf_token": csrf_of(page), "overall": "4", "to_make_it_5": "sooner\x00"})
    assert response.status_code == 400
    assert "the field 'to_make_it_5' contains a control character" in response.text


def test_a_proposed_date_in_9999_on_the_draft_page_is_refused(app: FastAPI,
                                                                web_agency: Ledger) -> None:
    alice = signed_in(app, web_agency, "alice@example.com")
    draft = delay_draft(web_agency)
    page = alice.get(f"/drafts/{draft.id}").text
    response = alice.post(f"/drafts/{draft.id}/edit", data={
        "csrf_token": csrf_of(page), "text": "", "proposed_due": "9999-12-31"})
    assert "proposed date Fri 31 Dec 9999 is more than 5 years ahead" in response.text
    assert delay_draft(web_agency).proposed_due_at == draft.proposed_due_at
    assert delay_draft(web_agency).text == draft.text


def delay_draft(ledger: Ledger) -> Notice:
    with Session(ledger.engine) as session:
        return session.exec(select(Notice).where(Notice.kind == "delay_notice")).one()


def test_cli_a_report_period_or_clock_beyond_the_ledgers_years_is_refused(team: Cli) -> None:
    refused(team("report", "--from", "2026-11-27", "--to", "9999-12-31", as_of=AS_OF),
            "the end of the report falls in 9999: give a date between 1970 and 2999")
    refused(team("report", "--from", "0001-01-01", as_of=AS_OF),
            "the start of the report falls in 1")
    refused(team("scan", as_of="9999-12-31T23:00Z"), "the --as-of falls in 9999")
