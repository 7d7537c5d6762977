"""Editing a client and a member: the services (who may, what is checked, the event) and the
CLI's `client edit` and `member edit`."""

import json
import threading

import pytest
from conftest import Cli
from helpers import until_a_writer_waits_on_a_lock
from scenarios import START
from sqlmodel import Session, select

from reliability.access import Actor, Forbidden, check_admins_remain
from reliability.errors import UserError
from reliability.ledger import Ledger
from reliability.models import Event, Member


def events(ledger: Ledger, kind: str) -> list[Event]:
    with Session(ledger.engine) as session:
        return list(session.exec(select(Event).where(Event.kind == kind)).all())


def member(ledger: Ledger, email: str) -> Member:
    with Session(ledger.engine) as session:
        return session.exec(select(Member).where(Member.email == email)).one()


def as_member(ledger: Ledger, email: str) -> Actor:
    return Actor.of(member(ledger, email))


def test_a_manager_edits_a_client_and_one_event_lists_the_changes(agency: Ledger) -> None:
    acme = agency.client_named("Acme")
    client, changed = agency.edit_client(
        acme.id or 0, now=START, actor=as_member(agency, "bob@example.com"),
        contact_name="Dana Reed", greeting="Dr Reed", locale="sv", timezone="Europe/Stockholm",
        country="se", auto_send=True)
    assert (client.greeting, client.locale, client.timezone, client.country) == (
        "Dr Reed", "sv", "Europe/Stockholm", "SE")
    assert changed["timezone"] == ["America/New_York", "Europe/Stockholm"]
    [event] = events(agency, "client.edited")
    assert event.actor == "bob@example.com"
    assert set(event.payload["changes"]) == {"contact_name", "greeting", "locale", "timezone",
                                             "country", "auto_send"}


def test_a_member_may_not_edit_a_client_and_nothing_changes(agency: Ledger) -> None:
    acme = agency.client_named("Acme")
    with pytest.raises(Forbidden, match="only a manager or an admin"):
        agency.edit_client(acme.id or 0, now=START, actor=as_member(agency, "alice@example.com"),
                           email="mallory@evil.example")
    assert agency.client_named("Acme").email == "dana@acme.example"
    assert events(agency, "client.edited") == []


def test_a_client_edit_is_checked_like_a_new_client(agency: Ledger) -> None:
    agency.add_client(name="Globex", email="hank@globex.example", now=START, actor="t")
    acme_id = agency.client_named("Acme").id or 0
    for changes, field in [({"name": "GLOBEX"}, "name"), ({"email": "nope"}, "email"),
                           ({"timezone": "Mars/Base"}, "timezone"),
                           ({"channel": "slack"}, "slack_channel"),
                           ({"locale": "fr"}, "locale"), ({"country": "XX"}, "country")]:
        with pytest.raises(UserError) as refused:
            agency.edit_client(acme_id, now=START, actor="t", **changes)
        assert refused.value.field == field, changes
    assert agency.client_named("Acme").timezone == "America/New_York"


def test_a_client_is_addressed_as_ni_until_set_to_du_and_nothing_else_is_taken(
        agency: Ledger) -> None:
    acme_id = agency.client_named("Acme").id or 0
    assert agency.client_named("Acme").address == "ni"
    with pytest.raises(UserError) as refused:
        agency.edit_client(acme_id, now=START, actor="t", address="Du")
    assert (refused.value.field, refused.value.hint) == ("address", "use one of ni, du")
    with pytest.raises(UserError) as refused_new:
        agency.add_client(name="Globex", email="hank@globex.example", address="ers",
                          now=START, actor="t")
    assert refused_new.value.field == "address"
    client, changed = agency.edit_client(acme_id, now=START, actor="t", address="du")
    assert client.address == "du" and changed == {"address": ["ni", "du"]}
    assert agency.client_named("Acme").address == "du"


def test_only_an_admin_edits_members_and_a_manager_loop_is_refused(agency: Ledger) -> None:
    agency.add_member(email="erin@example.com", name="Erin", role="admin", now=START, actor="t")
    with pytest.raises(Forbidden, match="only an admin"):
        agency.edit_member("alice@example.com", locale="sv", now=START,
                           actor=as_member(agency, "bob@example.com"))
    with pytest.raises(UserError, match=r"cannot report to alice@example\.com, who reports"):
        agency.edit_member("bob@example.com", manager_email="alice@example.com", now=START,
                           actor=as_member(agency, "erin@example.com"))
    alice, changed = agency.edit_member(
        "alice@example.com", locale="zh", manager_email="", timezone="Asia/Shanghai",
        now=START, actor=as_member(agency, "erin@example.com"))
    assert (alice.locale, alice.manager_id, alice.timezone) == ("zh", None, "Asia/Shanghai")
    assert changed["manager"] == ["bob@example.com", None]
    assert events(agency, "member.edited")[0].payload["changes"]["locale"] == [None, "zh"]
    again, nothing = agency.edit_member("alice@example.com", locale="", now=START, actor="t")
    assert again.locale is None and nothing == {"locale": ["zh", None]}


def test_a_member_sets_their_own_signature_but_only_an_admin_sets_anothers(
        agency: Ledger) -> None:
    alice = as_member(agency, "alice@example.com")
    mine, changed = agency.edit_member(
        "alice@example.com", signature="  Alice Ng\n\nAccount Director, Northwind  ",
        now=START, actor=alice)
    assert mine.signature == "Alice Ng\nAccount Director, Northwind"
    assert changed == {"signature": [None, "Alice Ng\nAccount Director, Northwind"]}
    with pytest.raises(Forbidden, match="only an admin"):
        agency.edit_member("bob@example.com", signature="Not Bob", now=START, actor=alice)
    with pytest.raises(Forbidden, match="only an admin"):
        agency.edit_member("alice@example.com", signature="Alice", locale="sv", now=START,
                           actor=alice)
    with pytest.raises(UserError) as refused:
        agency.edit_member("alice@example.com", signature="a\nb\nc\nd\ne", now=START,
                           actor=alice)
    assert refused.value.field == "signature"
    assert str(refused.value).startswith("a signature has at most 4 lines")
    assert member(agency, "bob@example.com").signature is None
    cleared, _ = agency.edit_member("alice@example.com", signature="", now=START, actor=alice)
    assert cleared.signature is None and member(agency, "alice@example.com").locale is None


def test_role_removal_and_adding_are_an_admins(agency: Ledger) -> None:
    bob = as_member(agency, "bob@example.com")
    for act in (lambda: agency.change_role("alice@example.com", "admin", now=START, actor=bob),
                lambda: agency.remove_member("alice@example.com", now=START, actor=bob),
                lambda: agency.add_member(email="x@example.com", name="X", now=START, actor=bob),
                lambda: agency.sign_out_everywhere(member(agency, "alice@example.com").id or 0,
                                                   now=START, actor=bob)):
        with pytest.raises(Forbidden):
            act()
    assert member(agency, "alice@example.com").role == "member"
    agency.sign_out_everywhere(member(agency, "bob@example.com").id or 0, now=START, actor=bob)
    assert member(agency, "bob@example.com").session_generation == 1


def test_client_edit_and_member_edit_on_the_command_line(cli: Cli) -> None:
    assert cli("init").exit_code == 0
    assert cli("client", "add", "Acme", "--email", "dana@acme.example", "--timezone",
               "America/New_York").exit_code == 0
    assert cli("member", "add", "bob@example.com", "--name", "Bob", "--locale", "sv"
               ).exit_code == 0
    assert cli("member", "add", "alice@example.com", "--name", "Alice").exit_code == 0
    edited = cli("client", "edit", "acme", "--greeting", "Dr Reed", "--auto-send", "--json")
    assert edited.exit_code == 0, edited.stderr
    assert json.loads(edited.stdout)["greeting"] == "Dr Reed"
    assert json.loads(edited.stdout)["auto_send"] is True
    same = cli("client", "edit", "Acme", "--greeting", "Dr Reed")
    assert same.stdout.strip() == "client #1 Acme: nothing changed"
    moved = cli("member", "edit", "alice@example.com", "--manager", "bob@example.com",
                "--locale", "zh")
    assert moved.stdout.strip() == ("alice@example.com: locale - -> zh; manager - -> "
                                    "bob@example.com")
    listed = json.loads(cli("member", "list", "--json").stdout)
    assert [(m["email"], m["locale"], m["manager"]) for m in listed] == [
        ("alice@example.com", "zh", "bob@example.com"), ("bob@example.com", "sv", None)]
    bad = cli("member", "edit", "alice@example.com", "--locale", "fr")
    assert bad.exit_code == 2 and "unknown locale 'fr'" in bad.stderr


def test_a_members_signature_is_set_on_the_command_line_one_line_at_a_time(cli: Cli) -> None:
    assert cli("init").exit_code == 0
    assert cli("member", "add", "priya@example.com", "--name", "Priya Raman").exit_code == 0
    signed = cli("member", "edit", "priya@example.com", "--signature",
                 "Priya Raman\\nAccount Director, Northwind Analytics", "--json")
    assert signed.exit_code == 0, signed.stderr
    assert json.loads(signed.stdout)["signature"] == (
        "Priya Raman\nAccount Director, Northwind Analytics")
    long = cli("member", "edit", "priya@example.com", "--signature", "x" * 401)
    assert long.exit_code == 2 and "at most 400 characters" in long.stderr


def test_how_a_swedish_letter_addresses_a_client_is_set_on_the_command_line(cli: Cli) -> None:
    assert cli("init").exit_code == 0
    added = cli("client", "add", "Volvo", "--email", "karin@volvo.example", "--locale", "sv",
                "--address", "du", "--json")
    assert added.exit_code == 0, added.stderr
    assert json.loads(added.stdout)["address"] == "du"
    back = cli("client", "edit", "Volvo", "--address", "ni")
    assert back.stdout.strip() == "client #1 Volvo: address du -> ni"
    bad = cli("client", "edit", "Volvo", "--address", "ers")
    assert bad.exit_code == 2 and "unknown address 'ers'" in bad.stderr


def test_two_admins_stepping_down_at_once_leave_the_team_one_admin(agency: Ledger,
                                                                    database_url: str) -> None:
    """Erin's demotion holds the admins' rows until it commits; Frank's, meanwhile, waits
    for them and then finds himself the last admin."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: the two cannot overlap")
    for email, name in (("erin@example.com", "Erin"), ("frank@example.com", "Frank")):
        agency.add_member(email=email, name=name, role="admin", now=START, actor="t")
    outcome: dict[str, str] = {}

    def frank_steps_down() -> None:
        try:
            agency.change_role("frank@example.com", "member", now=START, actor="t")
            outcome["frank"] = "demoted"
        except UserError as exc:
            outcome["frank"] = exc.message

    with agency.transaction() as session:
        erin = agency.find_current_member(session, "erin@example.com")
        check_admins_remain(session, erin, "role")
        frank = threading.Thread(target=frank_steps_down)
        frank.start()
        until_a_writer_waits_on_a_lock(agency.engine, frank, outcome)
        erin.role = "member"
        session.add(erin)
    frank.join(timeout=30)
    assert outcome == {"frank": "frank@example.com is the team's last admin"}
    assert member(agency, "frank@example.com").role == "admin"
