"""Client ratings: 1 to 5, recorded as given, refused with one clear message otherwise."""

import json

import pytest
from conftest import Cli
from helpers import at
from scenarios import agency_with
from sqlmodel import Session, select

from reliability.errors import UserError
from reliability.ledger import Ledger
from reliability.models import Event, Rating
from reliability.ratings import RatingSummary, add_rating, ratings

NOW = at("2026-11-20T15:00-05:00")


def test_a_rating_is_stored_with_one_event(ledger: Ledger) -> None:
    agency_with(ledger, "en")
    rating = add_rating(ledger, client_name="acme", overall=4, would_continue=5,
                        would_recommend=3, to_make_it_5="  Tell us earlier when things slip. ",
                        now=NOW, actor="bob@example.com")
    with Session(ledger.engine) as session:
        [stored] = session.exec(select(Rating)).all()
        [event] = session.exec(select(Event).where(Event.kind == "client.rated")).all()
    assert (stored.overall, stored.would_continue, stored.would_recommend) == (4, 5, 3)
    assert stored.to_make_it_5 == "Tell us earlier when things slip."
    assert stored.at == NOW and stored.recorded_by == "bob@example.com"
    assert event.payload["rating_id"] == rating.id and event.payload["overall"] == 4


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        ({"overall": 0}, "overall rating is a whole number from 1"),
        ({"overall": 6}, "overall rating is a whole number from 1"),
        ({"overall": 5, "would_continue": 9}, "would-continue"),
        ({"overall": 5, "would_recommend": -1}, "would-recommend"),
    ],
)
def test_scores_outside_one_to_five_are_refused_and_nothing_is_written(
    ledger: Ledger, scores: dict, message: str
) -> None:
    agency_with(ledger, "en")
    with pytest.raises(UserError, match=message):
        add_rating(ledger, client_name="Acme", now=NOW, actor="t", **scores)
    with Session(ledger.engine) as session:
        assert session.exec(select(Rating)).all() == []
        assert session.exec(select(Event).where(Event.kind == "client.rated")).all() == []


def test_an_unknown_client_is_refused(ledger: Ledger) -> None:
    agency_with(ledger, "en")
    with pytest.raises(UserError, match="unknown client 'Globex'"):
        add_rating(ledger, client_name="Globex", overall=3, now=NOW, actor="t")


def test_the_summary_keeps_the_latest_the_averages_and_every_answer(ledger: Ledger) -> None:
    agency_with(ledger, "en")
    add_rating(ledger, client_name="Acme", overall=3, would_continue=4,
               to_make_it_5="Fewer surprises", now=at("2026-09-01T10:00-04:00"), actor="t")
    add_rating(ledger, client_name="Acme", overall=5, would_continue=5, would_recommend=5,
               now=at("2026-11-01T10:00-05:00"), actor="t")
    with ledger.session() as session:
        summary = RatingSummary.of(ratings(session)[1])
    assert (summary.count, summary.latest_overall, summary.average_overall) == (2, 5, 4.0)
    assert (summary.average_would_continue, summary.average_would_recommend) == (4.5, 5.0)
    assert summary.to_make_it_5 == ("Fewer surprises",)


def test_rating_add_and_list_on_the_command_line(cli: Cli, ledger: Ledger) -> None:
    agency_with(ledger, "en")
    added = cli("rating", "add", "Acme", "--overall", "4", "--would-continue", "5",
                "--to-make-it-5", "A weekly status note", "--json",
                as_of="2026-11-20T15:00-05:00")
    assert added.exit_code == 0, added.stderr
    assert json.loads(added.stdout)["to_make_it_5"] == "A weekly status note"
    listed = json.loads(cli("rating", "list", "--json").stdout)
    assert [(r["client"], r["overall"], r["would_continue"]) for r in listed] == [("Acme", 4, 5)]


def test_rating_add_refuses_a_seven_with_exit_code_2(cli: Cli, ledger: Ledger) -> None:
    agency_with(ledger, "en")
    result = cli("rating", "add", "Acme", "--overall", "7")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: --overall: the overall rating is a whole number from 1")
    assert json.loads(cli("rating", "list", "--json").stdout) == []
