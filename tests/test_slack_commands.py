"""Reading `/promise` lines, and any text at all through the real HTTP endpoint."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from scenarios import agency_with
from servers.slack_api import SlackApi, slack_api
from slack_harness import SIGNING_SECRET, SlackWorkspace, serve
from test_slack_app import MONDAY_10

from reliability.config import Settings
from reliability.db import make_engine, upgrade
from reliability.ledger import Ledger
from reliability.phrases import say
from reliability.slack_commands import (
    Done,
    Help,
    ListMine,
    Log,
    LogMistake,
    Move,
    Proposal,
    SealError,
    Status,
    parse,
    seal,
    unseal,
)
from reliability.web.app import create_app


@pytest.mark.parametrize(("text", "expected"), [
    ("list", ListMine()),
    ("done 42", Done(42)),
    ("done #42", Done(42)),
    ("done deal for Acme by Friday", Log("done deal for Acme by Friday", None)),
    ("status 42 at-risk waiting on data", Status(42, "at_risk", "waiting on data", None)),
    ("status 7 on track 60% almost there", Status(7, "on_track", "almost there", 60)),
    ("status report for Acme by Friday", Log("status report for Acme by Friday", None)),
    ("move 42 to Monday because the data came late", Move(42, "Monday", "the data came late")),
    ("mistake Acme formula error; prevent: second person checks formula edits",
     LogMistake("Acme formula error", "second person checks formula edits")),
    ("<@U0ABC|dana> Q3 report for Acme &amp; Co by Friday",
     Log("Q3 report for Acme & Co by Friday", "U0ABC")),
    ("brief from <https://docs.example/x|the doc> for Acme by Friday",
     Log("brief from the doc for Acme by Friday", None)),
])
def test_a_promise_line_is_read_as_the_person_meant(text: str, expected: object) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize("opening", ["<@U1|", "<#", "<!a|", "<a|"])
def test_a_line_of_unclosed_slack_sequences_is_read_in_linear_time(opening: str) -> None:
    """The ack reads the line in the server's event loop: 40 kB of sequences Slack never
    leaves open took seconds each (every `<` scanned to the end), holding every request."""
    started = time.perf_counter()
    parse(opening * 8000 + "Q3 report for Acme by Friday")
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize("locale", ["en", "sv", "zh"])
@pytest.mark.parametrize("text", ["status 4 sideways", "status 4 done 140%", "move 4 Monday",
                                  "mistake Acme oops"])
def test_a_malformed_sub_command_gets_its_usage_in_the_readers_language(text: str,
                                                                        locale: str) -> None:
    found = parse(text)
    assert isinstance(found, Help)
    said = say(locale, found.note, percent=found.percent)
    assert "`/promise " in said or "140" in said


def test_a_sealed_proposal_opens_only_with_the_same_secret() -> None:
    proposal = Proposal("Q3 report", "Acme", "2026-11-20T17:00:00-05:00", "UALICE",
                        "Q3 report for Acme by Friday")
    value = seal(proposal, "one")
    assert unseal(value, "one") == proposal
    with pytest.raises(SealError):
        unseal(value, "two")
    with pytest.raises(SealError):
        unseal("garbage", "one")


# -- any text, through HTTP --------------------------------------------------------------------


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SlackWorkspace,
                                                                             SlackApi]]:
    """One database and server for all the examples: each request is only read or refused."""
    path = tmp_path_factory.mktemp("fuzz") / "reliability.db"
    built = Settings()
    built.database.url = f"sqlite:///{path}"
    engine = make_engine(built.database.url)
    upgrade(engine)
    with slack_api() as api:
        api.add_user("UALICE", "Alice", email="alice@example.com", tz="America/New_York")
        built.slack = api.settings()
        built.slack.signing_secret = SecretStr(SIGNING_SECRET)
        ledger = agency_with(Ledger(engine, built), "en")
        app = create_app(ledger)
        app.state.clock = lambda: MONDAY_10
        with serve(app) as url:
            client = SlackWorkspace(url, api)
            yield client, api
            client.http.close()
    engine.dispose()


WORDS = st.sampled_from(["done", "status", "move", "mistake", "list", "team", "help", "for",
                         "Acme", "by", "Friday", "周五前", "senast", "fredag", "42", "at-risk",
                         "because", "prevent:", ";", "<@UBOB|bob>", "&amp;", "<#C1|x>", "%"])
LINES = st.one_of(st.text(max_size=300),
                  st.lists(st.one_of(WORDS, st.text(max_size=12)), max_size=12).map(" ".join))


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=LINES)
def test_any_text_gets_a_helpful_answer_and_never_a_server_error(
        workspace: tuple[SlackWorkspace, SlackApi], text: str) -> None:
    slack, api = workspace
    response, url = slack.command(text)
    assert response.status_code == 200
    if response.content:
        answer = response.json()
    else:  # a sub-command: the answer follows through the response_url
        [answer] = api.replies(url)
    assert answer["text"].strip() and answer["blocks"]


def test_the_manifest_carries_the_command_scopes_and_this_servers_request_url(cli) -> None:
    import yaml

    result = cli("slack", "manifest", "--base-url", "https://promises.agency.example/")
    assert result.exit_code == 0
    manifest = yaml.safe_load(result.stdout)
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/promise"
    assert command["url"] == "https://promises.agency.example/slack/events"
    assert manifest["settings"]["interactivity"]["request_url"] == command["url"]
    assert {"commands", "chat:write", "im:write", "users:read", "users:read.email",
            "channels:history"} <= set(manifest["oauth_config"]["scopes"]["bot"])


@pytest.mark.parametrize("address", ["javascript:alert(1)", "http://a b", "https://", "ftp://x",
                                     "https://x.example/\x07", "//x.example"])
def test_the_manifest_refuses_an_address_that_is_not_an_absolute_http_url(
    cli, address: str,
) -> None:
    result = cli("slack", "manifest", "--base-url", address)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (f"error: --base-url: {address!r} is not an absolute http(s) "
                             "address without spaces, like https://promises.example.com\n")
