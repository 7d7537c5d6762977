"""The command line contract: JSON on stdout with --json, one message and exit 2 on bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Cli

AS_OF = "2026-11-23T10:00-05:00"


@pytest.fixture
def team(cli: Cli) -> Cli:
    assert cli("init").exit_code == 0
    assert cli("client", "add", "Acme", "--email", "dana@acme.example", "--contact-name",
               "Dana Reed", "--timezone", "America/New_York", "--country", "US").exit_code == 0
    assert cli("member", "add", "bob@example.com", "--name", "Bob", "--role",
               "manager").exit_code == 0
    assert cli("member", "add", "alice@example.com", "--name", "Alice", "--manager",
               "bob@example.com", "--timezone", "America/New_York").exit_code == 0
    return cli


def add_q3(cli: Cli) -> dict:
    result = cli("promise", "add", "Q3 report", "--client", "Acme", "--owner",
                 "alice@example.com", "--due", "2026-11-27T17:00-05:00", "--json", as_of=AS_OF)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_promise_add_prints_the_promise_as_json_in_the_clients_offset(team: Cli) -> None:
    promise = add_q3(team)
    assert {k: promise[k] for k in ("id", "title", "client", "owner", "due_at", "status")} == {
        "id": 1, "title": "Q3 report", "client": "Acme", "owner": "alice@example.com",
        "due_at": "2026-11-27T17:00:00-05:00", "status": "open",
    }


def test_a_bare_due_date_means_the_end_of_that_business_day(team: Cli) -> None:
    result = team("promise", "add", "Deck", "--client", "acme", "--owner", "alice@example.com",
                  "--due", "2026-12-04", "--json", as_of=AS_OF)
    assert json.loads(result.stdout)["due_at"] == "2026-12-04T17:00:00-05:00"


def test_init_is_idempotent(team: Cli) -> None:
    result = team("init")
    assert result.exit_code == 0 and "schema" in result.stdout


def test_listings_print_one_json_document(team: Cli) -> None:
    add_q3(team)
    for command in (["client", "list"], ["member", "list"], ["promise", "list"],
                    ["promise", "list", "--status", "open", "--client", "Acme"]):
        result = team(*command, "--json")
        assert result.exit_code == 0
        assert isinstance(json.loads(result.stdout), list)
    members = json.loads(team("member", "list", "--json").stdout)
    assert {m["email"]: m["manager"] for m in members}["alice@example.com"] == "bob@example.com"


def test_promise_show_has_the_timeline(team: Cli) -> None:
    add_q3(team)
    team("promise", "checkin", "1", "--status", "at_risk", "--progress", "40", "--note",
         "waiting on data", as_of="2026-11-24T09:00-05:00")
    team("promise", "move", "1", "--due", "2026-12-01T17:00-05:00", "--reason",
         "data is late", as_of="2026-11-24T10:00-05:00")
    shown = json.loads(team("promise", "show", "1", "--json").stdout)
    assert [e["kind"] for e in shown["timeline"]] == ["promise.made", "promise.checked_in",
                                                      "promise.moved"]
    assert shown["checkins"][0]["note"] == "waiting on data"
    assert shown["due_at"] == "2026-12-01T17:00:00-05:00"
    assert shown["original_due_at"] == "2026-11-27T17:00:00-05:00"
    human = team("promise", "show", "1").stdout
    assert "promise.moved" in human and "Q3 report" in human


def test_done_and_cancel(team: Cli) -> None:
    add_q3(team)
    add_q3(team)
    done = json.loads(team("promise", "done", "1", "--json", as_of="2026-11-25T12:00-05:00")
                      .stdout)
    assert (done["status"], done["done_at"]) == ("done", "2026-11-25T12:00:00-05:00")
    cancelled = json.loads(team("promise", "cancel", "2", "--reason", "scope dropped",
                                "--json").stdout)
    assert cancelled["cancel_reason"] == "scope dropped"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["promise", "add", "x", "--client", "Globex", "--owner", "alice@example.com",
          "--due", "2026-12-01"], "unknown client 'Globex'"),
        (["promise", "add", "x", "--client", "Acme", "--owner", "zed@example.com",
          "--due", "2026-12-01"], "unknown member"),
        (["promise", "add", "x", "--client", "Acme", "--owner", "alice@example.com",
          "--due", "2026-11-20"], "in the past"),
        (["promise", "add", "x", "--client", "Acme", "--owner", "alice@example.com",
          "--due", "someday"], "'someday'"),
        (["promise", "add", "Deck for Acme", "--owner", "alice@example.com",
          "--due", "2026-12-01"], "with --due, say which client: --client NAME"),
        (["promise", "done", "42"], "no promise #42"),
        (["client", "add", "ACME", "--email", "x@acme.example"], "already exists"),
        (["client", "add", "Globex", "--email", "not-an-email"], "not an email address"),
        (["client", "add", "Globex", "--email", "g@globex.example", "--timezone", "Nowhere"],
         "unknown timezone"),
        (["client", "add", "Globex", "--email", "g@globex.example", "--country", "QQ"],
         "unknown country"),
        (["client", "add", "Globex", "--email", "g@globex.example", "--locale", "fr"],
         "unknown locale"),
        (["member", "add", "carol@example.com", "--name", "Carol", "--role", "boss"],
         "unknown role"),
        (["export", "--format", "xml"], "unknown export format"),
    ],
)
def test_bad_input_is_one_message_on_stderr_with_exit_2_and_nothing_written(
    team: Cli, args: list[str], message: str
) -> None:
    add_q3(team)
    before = team("export").stdout
    result = team(*args, as_of=AS_OF)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert team("export").stdout == before


def test_marking_a_promise_done_twice_is_refused(team: Cli) -> None:
    add_q3(team)
    assert team("promise", "done", "1").exit_code == 0
    second = team("promise", "done", "1")
    assert second.exit_code == 2 and "already done" in second.stderr


def test_a_database_that_was_never_initialised_says_to_run_init(cli: Cli, tmp_path: Path) -> None:
    result = cli("--db", f"sqlite:///{tmp_path}/missing.db", "client", "list")
    assert result.exit_code == 2 and "reliability init" in result.stderr
    assert not (tmp_path / "missing.db").exists()


def test_export_writes_csv_files_per_table(team: Cli, tmp_path: Path) -> None:
    add_q3(team)
    assert team("export", "--format", "csv", "--out", str(tmp_path / "out")).exit_code == 0
    promise_csv = (tmp_path / "out" / "promise.csv").read_text().splitlines()
    assert promise_csv[0].startswith("id,title,client_id")
    assert "Q3 report" in promise_csv[1]
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {"client.csv", "event.csv"}


def test_the_installed_command_runs_end_to_end_in_a_real_process(
    database_url: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELIABILITY_")}
    env["RELIABILITY_DATABASE__URL"] = database_url
    command = [sys.executable, "-m", "reliability"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*command, *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=60, check=False)

    assert run("init").returncode == 0
    assert run("client", "add", "Acme", "--email", "dana@acme.example", "--timezone",
               "America/New_York", "--country", "US").returncode == 0
    assert run("member", "add", "alice@example.com", "--name", "Alice").returncode == 0
    added = run("--as-of", AS_OF, "promise", "add", "Q3 report", "--client", "Acme", "--owner",
                "alice@example.com", "--due", "2026-11-27T17:00-05:00", "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["due_at"] == "2026-11-27T17:00:00-05:00"
    refused = run("promise", "done", "7")
    assert refused.returncode == 2
    assert refused.stderr.strip() == ("error: there is no promise #7 that you can change: the "
                                      "list of promises shows the ones you can change")


def test_a_bad_config_file_names_the_key_and_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "reliability.toml"
    config.write_text('[policy]\nnotice_lead_business_days = "two"\n[smtp]\nhots = "x"\n')
    result = subprocess.run([sys.executable, "-m", "reliability", "--config", str(config),
                             "client", "list"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 2
    assert "[policy] notice_lead_business_days" in result.stderr
    assert "[smtp] hots" in result.stderr and "unknown key" in result.stderr


def test_a_promise_can_be_logged_as_people_say_it(team: Cli) -> None:
    result = team("promise", "add", "Q3 report for Acme by Friday", "--owner",
                  "alice@example.com", "--json", as_of=AS_OF)
    assert result.exit_code == 0, result.stderr
    promise = json.loads(result.stdout)
    assert (promise["title"], promise["client"]) == ("Q3 report", "Acme")
    assert promise["due_at"] == "2026-11-27T17:00:00-05:00"
    unknown = team("promise", "add", "Deck for Globex by Friday", "--owner", "alice@example.com",
                   as_of=AS_OF)
    assert unknown.exit_code == 2 and "'Globex' is not a client yet" in unknown.stderr


def test_when_explains_how_a_phrase_resolves(cli: Cli) -> None:
    result = cli("when", "in 3 business days", "--timezone", "America/New_York", "--country",
                 "US", "--json", as_of="2026-11-23T09:30-05:00")
    assert json.loads(result.stdout)["due_at"] == "2026-11-27T17:00:00-05:00"
    typo = cli("when", "by Fryday", as_of="2026-11-23T09:30-05:00")
    assert typo.exit_code == 2 and "Fryday" in typo.stderr and "Traceback" not in typo.stderr


def test_promise_add_reads_a_weekday_with_its_day_of_month_and_keeps_the_title(
    team: Cli,
) -> None:
    result = team("promise", "add", "Audit for Acme by Friday 11th", "--owner",
                  "alice@example.com", "--json", as_of=AS_OF)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    promise = json.loads(result.stdout)
    assert (promise["title"], promise["client"], promise["due_at"]) == (
        "Audit", "Acme", "2026-12-11T17:00:00-05:00",
    )  # fmt: skip


def test_promise_add_refuses_a_weekday_and_day_of_month_that_disagree(team: Cli) -> None:
    result = team("promise", "add", "Audit for Acme by Friday 12th", "--owner",
                  "alice@example.com", as_of=AS_OF)  # fmt: skip
    assert result.exit_code == 2
    assert "Fri 11 Dec" in result.stderr and "Sat 12 Dec" in result.stderr
    assert json.loads(team("promise", "list", "--json").stdout) == []


def test_a_member_added_in_chinese_reads_their_check_in_request_in_chinese(team: Cli) -> None:
    from servers.smtp import smtp_server

    added = team("member", "add", "chen@example.com", "--name", "陈梅", "--locale", "zh",
                 "--manager", "bob@example.com", "--timezone", "Asia/Shanghai", "--json")
    assert added.exit_code == 0, added.stderr
    assert json.loads(added.stdout)["locale"] == "zh"
    made = team("promise", "add", "Q3 report", "--client", "Acme", "--owner",
                "chen@example.com", "--due", "2026-12-04T17:00-05:00", as_of=AS_OF)
    assert made.exit_code == 0, made.stderr
    scanned = team("scan", "--json", as_of="2026-12-01T09:00-05:00")
    assert scanned.exit_code == 0, scanned.stderr
    with smtp_server() as server:
        env = {"RELIABILITY_SMTP__HOST": server.host, "RELIABILITY_SMTP__PORT": str(server.port)}
        os.environ.update(env)
        try:
            sent = team("deliver", "--once", as_of="2026-12-01T09:01-05:00")
        finally:
            for key in env:
                os.environ.pop(key)
    assert sent.exit_code == 0, sent.stderr
    [email] = [m for m in server.messages
               if m["To"].addresses[0].addr_spec == "chen@example.com"]
    body = email.get_body(("plain",)).get_content()
    assert email["Subject"].startswith("进度确认：Acme的“Q3 report”")
    assert body.startswith("陈梅，您好！")
    assert "12月5日（周六）06:00" in body  # Friday 17:00 in New York, read in Beijing


def test_a_member_language_outside_the_three_is_refused_with_the_choices(team: Cli) -> None:
    result = team("member", "add", "fr@example.com", "--name", "Amélie", "--locale", "fr")

    assert result.exit_code == 2
    assert "fr" in result.stderr and "en" in result.stderr and "Traceback" not in result.stderr


def test_scan_words_each_reason_and_keeps_its_code_and_facts_in_json(team: Cli) -> None:
    add_q3(team)
    scanned = team("scan", "--json", as_of="2026-11-30T10:00-05:00")
    said = team("scan", as_of="2026-12-01T10:00-05:00")

    [change] = json.loads(scanned.stdout)["changes"]
    past_due = next(r for r in change["reasons"] if r["code"] == "past_due")
    assert past_due["due_at"] == "2026-11-27T22:00:00+00:00"
    assert past_due["text"] == "Past due since Friday at 10:00 PM, not reported done"
    assert said.exit_code == 0 and "T22:00" not in said.stdout


def test_promise_list_shows_every_promise_in_a_table(team: Cli) -> None:
    add_q3(team)
    team("promise", "add", "Deck", "--client", "Acme", "--owner", "alice@example.com",
         "--due", "2026-12-04", as_of=AS_OF)
    listed = team("promise", "list")
    assert listed.exit_code == 0, listed.stderr
    header, _rule, *rows = listed.stdout.splitlines()
    assert header.split() == ["id", "title", "client", "owner", "due", "status"]
    assert [row.split()[1] for row in rows] == ["Q3", "Deck"]


def test_promise_list_json_is_written_as_it_is_read_and_reads_as_one_document(
        team: Cli) -> None:
    add_q3(team)
    for title in ("Deck", "Ünïcode “brief”"):
        team("promise", "add", title, "--client", "Acme", "--owner", "alice@example.com",
             "--due", "2026-12-04", as_of=AS_OF)
    listed = team("promise", "list", "--json").stdout
    records = json.loads(listed)
    assert [r["title"] for r in records] == ["Q3 report", "Deck", "Ünïcode “brief”"]
    assert listed == json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    assert team("promise", "list", "--status", "done", "--json").stdout == "[]\n"
    refused = team("promise", "list", "--status", "finished", "--json")
    assert refused.exit_code == 2 and refused.stdout == ""
