"""`reliability promise extract`: meeting notes in, suggested promises and requests out."""

import json
from pathlib import Path

import pytest
from conftest import Cli
from typer.testing import CliRunner

from reliability.cli import app

MONDAY = "2026-11-16T09:00-05:00"
NOTES = {
    "en": ("Acme weekly sync, 16 Nov\nAttendees: Alice, Bob, Dana (Acme)\n"
           "- Alice will send the revised deck by Friday.\n"
           "- Action: Bob to share the media budget by Wednesday.\n"
           "- Dana will send the brand assets by Thursday.\n"
           "- If the data arrives, we'll update the dashboard by Friday.\n"),
    "sv": ("Avstämning med Nordbanken\n- Erik skickar offerten senast fredag.\n"
           "- Vi levererar skisserna senast onsdag.\n- Nordbanken skickar logotyperna på torsdag.\n"
           "- Vi skickade protokollet i fredags.\n"),
    "zh": ("华信项目周会纪要\n1. 李伟周五前把报价发给您。\n2. 我们周三前交付设计稿。\n"
           "3. 客户周四给我们反馈。\n4. 如果数据到了，我们周五前更新看板。\n"),
}  # fmt: skip


@pytest.fixture
def team(cli: Cli) -> Cli:
    assert cli("init").exit_code == 0
    for name, email, zone, country, locale in (
        ("Acme", "dana@acme.example", "America/New_York", "US", "en"),
        ("Nordbanken", "anna@nordbanken.example", "Europe/Stockholm", "SE", "sv"),
        ("华信", "zhang@huaxin.example", "Asia/Shanghai", "CN", "zh"),
    ):
        assert cli("client", "add", name, "--email", email, "--timezone", zone, "--country",
                   country, "--locale", locale).exit_code == 0
    for email, name in (("alice@example.com", "Alice"), ("bob@example.com", "Bob"),
                        ("erik@example.com", "Erik Lind"), ("liwei@example.com", "李伟")):
        assert cli("member", "add", email, "--name", name).exit_code == 0
    return cli


def extract(cli: Cli, tmp_path: Path, text: str, *args: str) -> list[dict]:
    notes = tmp_path / "notes.txt"
    notes.write_text(text, encoding="utf-8")
    result = cli("promise", "extract", str(notes), *args, "--json", as_of=MONDAY)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def brief(findings: list[dict]) -> list[tuple]:
    return [(f["kind"], f["title"], f["owner"], f["client"], f["due_at"]) for f in findings]


def test_english_notes_list_each_members_promise_with_owner_client_and_date(
        team: Cli, tmp_path: Path) -> None:
    found = extract(team, tmp_path, NOTES["en"], "--client", "Acme", "--author",
                    "bob@example.com")
    assert brief(found) == [
        ("commitment", "Send the revised deck", "alice@example.com", "Acme",
         "2026-11-20T17:00:00-05:00"),
        ("commitment", "Share the media budget", "bob@example.com", "Acme",
         "2026-11-18T17:00:00-05:00"),
    ]
    assert set(found[0]) == {"kind", "sentence", "title", "owner", "client", "due_at",
                             "confidence"}


def test_swedish_notes_place_the_dates_in_the_clients_calendar(team: Cli, tmp_path: Path) -> None:
    found = extract(team, tmp_path, NOTES["sv"], "--client", "Nordbanken", "--author",
                    "alice@example.com")
    assert brief(found) == [
        ("commitment", "Skickar offerten", "erik@example.com", "Nordbanken",
         "2026-11-20T17:00:00+01:00"),
        ("commitment", "Levererar skisserna", "alice@example.com", "Nordbanken",
         "2026-11-18T17:00:00+01:00"),
    ]


def test_chinese_notes_name_what_is_handed_over(team: Cli, tmp_path: Path) -> None:
    found = extract(team, tmp_path, NOTES["zh"], "--client", "华信", "--author",
                    "alice@example.com")
    assert brief(found) == [
        ("commitment", "报价", "liwei@example.com", "华信", "2026-11-20T17:00:00+08:00"),
        ("commitment", "交付设计稿", "alice@example.com", "华信", "2026-11-18T17:00:00+08:00"),
    ]


def test_a_client_contacts_email_yields_their_requests_for_their_client(
        team: Cli, tmp_path: Path) -> None:
    email = ("Hi team,\nCould you send us the updated quote by Friday? We'll send the signed "
             "contract by Thursday.\nHow is the video edit coming along?\n")
    found = extract(team, tmp_path, email, "--author", "dana@acme.example")
    assert brief(found) == [
        ("request", "Send us the updated quote", "dana@acme.example", "Acme",
         "2026-11-20T17:00:00-05:00"),
        ("request", "How is the video edit coming along", "dana@acme.example", "Acme", None),
    ]


def test_extract_stores_nothing_and_prints_a_readable_list(team: Cli, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text(NOTES["en"], encoding="utf-8")
    result = team("promise", "extract", str(notes), "--client", "Acme", as_of=MONDAY)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[:2] == [
        "commitment: Send the revised deck (owner alice@example.com, client Acme, "
        "due Fri 20 Nov, 17:00 (America/New_York), confidence 0.90)",
        "  \u201cAlice will send the revised deck by Friday.\u201d",
    ]
    assert json.loads(team("promise", "list", "--json").stdout) == []


def test_an_unknown_author_or_file_is_one_error_line(team: Cli, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text(NOTES["en"], encoding="utf-8")
    unknown = team("promise", "extract", str(notes), "--author", "nobody@example.com")
    missing = team("promise", "extract", str(tmp_path / "missing.txt"))
    nul = team("promise", "extract", "a\x00b")
    assert (unknown.exit_code, missing.exit_code, nul.exit_code) == (2, 2, 2)
    assert "unknown member 'nobody@example.com'" in unknown.stderr
    assert "cannot read" in missing.stderr
    assert "a file name cannot contain a NUL character" in nul.stderr


def test_notes_can_come_from_stdin(team: Cli, database_url: str) -> None:
    result = CliRunner().invoke(
        app, ["--db", database_url, "--as-of", MONDAY, "promise", "extract", "-", "--client",
              "Acme", "--json"], input="Bob will send the invoice by Friday.\n")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert [f["owner"] for f in json.loads(result.stdout)] == ["bob@example.com"]


def test_notes_over_1_mib_are_refused_before_reading_further(
    team: Cli, tmp_path: Path, database_url: str,
) -> None:
    notes = tmp_path / "huge.txt"
    notes.write_bytes(b"Bob will send the invoice by Friday.\n".rjust(1024 * 1024 + 1, b" "))
    from_file = team("promise", "extract", str(notes))
    from_stdin = CliRunner().invoke(app, ["--db", database_url, "promise", "extract", "-"],
                                    input=notes.read_bytes())
    for result, source in ((from_file, str(notes)), (from_stdin, "-")):
        assert result.exit_code == 2, result.stderr
        assert result.stderr == (f"error: {source!r} is over 1 MiB (1,048,576 bytes): "
                                 "extract from a shorter part of it\n")
