"""The clients, members and Paste-notes forms through the ASGI app, on SQLite and PostgreSQL:
who may use them, a message under the field at fault, and nothing written on a refusal."""

import html
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select
from web_helpers import app_for, csrf_of, signed_in, wednesday_agency

from reliability.ledger import Ledger
from reliability.models import Client, Event, Member, Notice, Promise
from reliability.web.logs import redact

FIELD_ERROR = re.compile(r'<p class="field-error" id="([^"]+)-error">([^<]*)</p>')
NOTES = ("Acme weekly sync\n- Alice will send the revised deck by Friday.\n"
         "- Action: Bob to share the media budget by Monday.\n")


@pytest.fixture
def agency(ledger: Ledger) -> Ledger:
    return wednesday_agency(ledger)


@pytest.fixture
def app(agency: Ledger) -> FastAPI:
    return app_for(agency)


def field_errors(page: str) -> dict[str, str]:
    return {name: html.unescape(text) for name, text in FIELD_ERROR.findall(page)}


def flash(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<p class="flash \w+" role="\w+">([^<]*)<',
                                                 page)]


def post(browser: TestClient, form_page: str, path: str, /, **data: object) -> object:
    page = browser.get(form_page)
    return browser.post(path, data={"csrf_token": csrf_of(page.text), **data},
                        follow_redirects=False)


def count(ledger: Ledger, model: type, *where: object) -> int:
    with Session(ledger.engine) as session:
        return len(session.exec(select(model).where(*where)).all())


def member_id(ledger: Ledger, email: str) -> int:
    with Session(ledger.engine) as session:
        return session.exec(select(Member.id).where(Member.email == email)).one() or 0


def test_the_stylesheet_is_served_whole_behind_the_input_guard(app: FastAPI) -> None:
    """The guard replays the body it read; a file response must not hear a disconnect."""
    response = TestClient(app).get("/static/app.css")
    assert response.status_code == 200 and ".field-error" in response.text


CLIENT = {"name": "Globex", "email": "hank@globex.example", "contact_name": "Hank",
          "locale": "sv", "timezone": "Europe/Stockholm", "country": "SE", "channel": "email"}


def test_any_member_adds_a_client_but_only_managers_and_admins_edit_one(
        app: FastAPI, agency: Ledger) -> None:
    alice = signed_in(app, agency, "alice@example.com")
    added = post(alice, "/clients/new", "/clients/new", **CLIENT, confirm_promises="1")
    assert added.status_code == 303
    globex = agency.client_named("Globex")
    assert (globex.locale, globex.timezone, globex.confirm_promises) == ("sv",
                                                                         "Europe/Stockholm", True)
    assert flash(alice.get(added.headers["location"]).text) == ["Client Globex added."]

    assert alice.get(f"/clients/{globex.id}/edit").status_code == 403
    refused = alice.post(f"/clients/{globex.id}/edit", data={
        "csrf_token": csrf_of(alice.get("/clients").text), **CLIENT, "email": "me@evil.example"})
    assert refused.status_code == 403
    assert "only a manager or an admin" in refused.text
    assert "Edit details" not in alice.get(f"/clients/{globex.id}").text
    assert agency.client_named("Globex").email == "hank@globex.example"

    bob = signed_in(app, agency, "bob@example.com")
    assert "Edit details" in bob.get(f"/clients/{globex.id}").text
    edited = post(bob, f"/clients/{globex.id}/edit", f"/clients/{globex.id}/edit",
                  **{**CLIENT, "greeting": "Hej Hank", "channel": "email"})
    assert edited.status_code == 303
    assert flash(bob.get(edited.headers["location"]).text) == [
        "Saved Globex: greeting, confirm promises."]
    assert agency.client_named("Globex").greeting == "Hej Hank"
    assert count(agency, Event, Event.kind == "client.edited") == 1


def test_a_manager_sets_a_swedish_client_to_du_on_the_client_form(
        app: FastAPI, agency: Ledger) -> None:
    bob = signed_in(app, agency, "bob@example.com")
    added = post(bob, "/clients/new", "/clients/new", **CLIENT)
    assert added.status_code == 303 and agency.client_named("Globex").address == "ni"
    globex_id = agency.client_named("Globex").id
    form = bob.get(f"/clients/{globex_id}/edit").text
    assert '<option value="du"' in form and "Swedish letters address them as" in form

    edited = post(bob, f"/clients/{globex_id}/edit", f"/clients/{globex_id}/edit",
                  **CLIENT, address="du")
    assert flash(bob.get(edited.headers["location"]).text) == ["Saved Globex: address."]
    assert agency.client_named("Globex").address == "du"
    refused = post(bob, f"/clients/{globex_id}/edit", f"/clients/{globex_id}/edit",
                   **CLIENT, address="vi")
    assert refused.status_code == 400
    assert field_errors(refused.text) == {"address": "unknown address 'vi': use one of ni, du"}
    assert agency.client_named("Globex").address == "du"


def test_a_bad_client_field_is_named_under_it_and_the_input_is_kept(
        app: FastAPI, agency: Ledger) -> None:
    erin = signed_in(app, agency, "erin@example.com")
    for changes, field, words in [
            ({"timezone": "Mars/Olympus"}, "timezone", "Mars/Olympus"),
            ({"email": "hank-at-globex"}, "email", "is not an email address"),
            ({"name": "ACME"}, "name", "a client called 'Acme' already exists"),
            ({"channel": "slack"}, "slack_channel", "needs a Slack channel"),
            ({"country": "Atlantis"}, "country", "unknown country")]:
        page = post(erin, "/clients/new", "/clients/new", **{**CLIENT, **changes})
        assert page.status_code == 400, changes
        errors = field_errors(page.text)
        assert list(errors) == [field] and words in errors[field], errors
        assert 'value="Hank"' in page.text  # what was typed stays
    assert count(agency, Client) == 1

    acme = agency.client_named("Acme")
    page = post(erin, f"/clients/{acme.id}/edit", f"/clients/{acme.id}/edit",
                **{**CLIENT, "name": "Acme", "email": "dana@acme.example", "timezone": ""})
    assert page.status_code == 400 and "timezone" in field_errors(page.text)
    assert agency.client_named("Acme").timezone == "America/New_York"
    assert erin.get("/clients/999/edit").status_code == 404


def test_members_pages_are_an_admins_only(app: FastAPI, agency: Ledger) -> None:
    alice_id = member_id(agency, "alice@example.com")
    for email in ("alice@example.com", "bob@example.com"):
        client = signed_in(app, agency, email)
        assert "/members" not in client.get("/board").text.split("<main>")[0]
        for path in ("/members", "/members/new", f"/members/{alice_id}"):
            assert client.get(path).status_code == 403, (email, path)
        token = csrf_of(client.get("/board").text)
        for action, data in [("role", {"role": "admin"}), ("remove", {}), ("sign-out", {}),
                             ("edit", {"name": "Mallory"})]:
            response = client.post(f"/members/{alice_id}/{action}",
                                   data={"csrf_token": token, **data})
            assert response.status_code == 403, (email, action)
    with Session(agency.engine) as session:
        alice = session.get(Member, alice_id)
        assert alice is not None and (alice.name, alice.role) == ("Alice", "member")
    assert count(agency, Event, col(Event.kind).in_(
        ["member.role_changed", "member.removed", "member.edited"])) == 0


def test_the_last_admin_is_told_why_they_cannot_step_down_on_their_page(
        app: FastAPI, agency: Ledger) -> None:
    erin = signed_in(app, agency, "erin@example.com")
    page = f"/members/{member_id(agency, 'erin@example.com')}"
    demoted = post(erin, page, f"{page}/role", role="member")
    assert demoted.status_code == 400
    assert field_errors(demoted.text) == {"role": "erin@example.com is the team's last admin: "
                                                  "make someone else an admin first"}
    removed = post(erin, page, f"{page}/remove")
    assert removed.status_code == 400
    assert flash(removed.text)[0] == ("erin@example.com is the team's last admin: make someone "
                                      "else an admin first")
    assert count(agency, Event, col(Event.kind).in_(
        ["member.role_changed", "member.removed"])) == 0


def test_an_admin_adds_a_member_sets_role_and_language_and_signs_them_out(
        app: FastAPI, agency: Ledger) -> None:
    erin = signed_in(app, agency, "erin@example.com")
    bad = post(erin, "/members/new", "/members/new", email="frank@", name="Frank",
               role="member", manager="bob@example.com", locale="sv", timezone="",
               country="", digest_channel="email")
    assert bad.status_code == 400 and "email" in field_errors(bad.text)
    assert 'value="frank@"' in bad.text
    added = post(erin, "/members/new", "/members/new", email="frank@example.com",
                 name="Frank", role="member", manager="bob@example.com", locale="sv",
                 timezone="Europe/Stockholm", country="SE", digest_channel="email")
    assert added.status_code == 303
    frank = member_id(agency, "frank@example.com")
    page = f"/members/{frank}"
    assert flash(erin.get(page).text)[0].startswith("Frank <frank@example.com> added")

    frank_browser = signed_in(app, agency, "frank@example.com")
    assert post(erin, page, f"{page}/role", role="manager").status_code == 303
    assert frank_browser.get("/board", follow_redirects=False).status_code == 303  # signed out
    same = post(erin, page, f"{page}/role", role="manager")
    assert same.status_code == 400
    assert field_errors(same.text) == {"role": "frank@example.com is already manager: choose "
                                               "another role"}
    assert post(erin, page, f"{page}/edit", name="Frank Berg", manager="", locale="zh",
                timezone="Europe/Stockholm", country="SE",
                digest_channel="email").status_code == 303
    assert "Saved Frank Berg: name, locale, manager." in flash(erin.get(page).text)
    with Session(agency.engine) as session:
        stored = session.get(Member, frank)
        assert stored is not None
        assert (stored.role, stored.locale, stored.manager_id) == ("manager", "zh", None)

    frank_browser = signed_in(app, agency, "frank@example.com")
    assert post(erin, page, f"{page}/sign-out").status_code == 303
    assert frank_browser.get("/board", follow_redirects=False).status_code == 303
    assert post(erin, page, f"{page}/remove").status_code == 303
    assert "removed" in erin.get("/members").text


def test_a_member_sets_their_own_signature_and_an_admin_sets_anyones(
        app: FastAPI, agency: Ledger) -> None:
    alice = signed_in(app, agency, "alice@example.com")
    assert 'href="/signature"' in alice.get("/board").text
    saved = post(alice, "/signature", "/signature",
                 signature="Alice Ng\r\nAccount Director, Northwind Analytics")
    assert saved.status_code == 303
    page = alice.get("/signature").text
    assert flash(page) == ["Your signature is saved."]
    assert "Alice Ng\nAccount Director, Northwind Analytics</textarea>" in page
    too_long = post(alice, "/signature", "/signature", signature="a\nb\nc\nd\ne")
    assert too_long.status_code == 400
    assert field_errors(too_long.text)["signature"].startswith("a signature has at most 4")
    with Session(agency.engine) as session:
        stored = session.exec(select(Member).where(Member.email == "alice@example.com")).one()
    assert stored.signature == "Alice Ng\nAccount Director, Northwind Analytics"

    erin = signed_in(app, agency, "erin@example.com")
    bob = f"/members/{member_id(agency, 'bob@example.com')}"
    assert post(erin, bob, f"{bob}/edit", name="Bob", manager="", locale="",
                timezone="America/New_York", country="", digest_channel="email",
                signature="Bob\nHead of Delivery").status_code == 303
    assert "Saved Bob: signature." in flash(erin.get(bob).text)
    with Session(agency.engine) as session:
        bob_row = session.exec(select(Member).where(Member.email == "bob@example.com")).one()
    assert bob_row.signature == "Bob\nHead of Delivery"


def test_removing_a_member_with_open_promises_says_why_on_their_page(
        app: FastAPI, agency: Ledger) -> None:
    erin = signed_in(app, agency, "erin@example.com")
    alice = f"/members/{member_id(agency, 'alice@example.com')}"
    refused = post(erin, alice, f"{alice}/remove")
    assert refused.status_code == 400
    assert "alice@example.com still owns 1 open promise(s)" in flash(refused.text)[0]
    loop = post(erin, f"/members/{member_id(agency, 'bob@example.com')}",
                f"/members/{member_id(agency, 'bob@example.com')}/edit", name="Bob",
                manager="alice@example.com", locale="", timezone="America/New_York",
                country="US", digest_channel="email")
    assert loop.status_code == 400
    assert "cannot report to alice@example.com" in field_errors(loop.text)["manager"]


def review_page(browser: TestClient, notes: str, /, **fields: str) -> str:
    found = post(browser, "/notes", "/notes", notes=notes, **fields)
    assert found.status_code == 303, found.text
    assert found.headers["location"].startswith("/notes/review?token=")
    return browser.get(found.headers["location"]).text


def decide(browser: TestClient, page: str, index: int, action: str, /, **fields: str) -> object:
    token = html.unescape(re.search(r'name="token" value="([^"]+)"', page).group(1))
    return browser.post("/notes/review", data={"csrf_token": csrf_of(page), "token": token,
                                              "index": index, "action": action, **fields},
                       follow_redirects=False)


def test_pasted_notes_list_findings_and_store_only_what_is_logged(
        app: FastAPI, agency: Ledger) -> None:
    bob = signed_in(app, agency, "bob@example.com")
    promises = count(agency, Promise)
    page = review_page(bob, NOTES, client="Acme", author="bob@example.com")
    assert "“Alice will send the revised deck by Friday.”" in page
    assert "Fri 20 Nov, 17:00 (America/New_York)" in page
    assert count(agency, Promise) == promises  # nothing stored by reading

    bad = decide(bob, page, 0, "log", title="Send the revised deck", owner="alice@example.com",
                 client="Acme", due="last Tuesday")
    assert bad.status_code == 400 and list(field_errors(bad.text)) == ["f0-due"]
    assert 'value="last Tuesday"' in bad.text
    logged = decide(bob, page, 0, "log", title="Send the revised deck v2",
                    owner="alice@example.com", client="Acme", due="2026-11-20 17:00")
    assert logged.status_code == 303
    after = bob.get(logged.headers["location"]).text
    assert flash(after)[0].startswith("Logged #")
    assert decide(bob, after, 1, "drop").status_code == 303
    with Session(agency.engine) as session:
        [promise] = session.exec(select(Promise).where(Promise.source == "notes")).all()
    assert (promise.title, promise.raw_text) == ("Send the revised deck v2",
                                                 "Alice will send the revised deck by Friday.")
    assert count(agency, Promise) == promises + 1
    again = decide(bob, after, 0, "log", title="x", owner="alice@example.com", client="Acme",
                   due="Friday")
    assert again.status_code == 303 and count(agency, Promise) == promises + 1
    back = decide(bob, page, 0, "log", title="Send the revised deck v3",  # the Back button
                  owner="alice@example.com", client="Acme", due="Friday")
    assert back.status_code == 303 and count(agency, Promise) == promises + 1
    listed = bob.get(back.headers["location"]).text
    assert "That finding was already decided: here is the list as it stands." in flash(listed)
    assert f'href="/promises/{promise.id}"' in listed


def test_a_finding_in_notes_is_logged_only_for_someone_the_viewer_may_log_for(
        app: FastAPI, agency: Ledger) -> None:
    carol = signed_in(app, agency, "carol@example.com")  # a manager, but not Alice's
    promises = count(agency, Promise)
    page = review_page(carol, NOTES, client="Acme", author="bob@example.com")
    refused = decide(carol, page, 0, "log", title="Send the revised deck",
                     owner="alice@example.com", client="Acme", due="2026-11-20 17:00")
    assert refused.status_code == 400
    assert field_errors(refused.text) == {"f0-owner": (
        "alice@example.com is not someone you can log a promise for: choose yourself or "
        "someone who reports to you; their manager or an admin can do it for them")}
    assert count(agency, Promise) == promises
    mine = decide(carol, page, 0, "log", title="Send the revised deck",
                  owner="carol@example.com", client="Acme", due="2026-11-20 17:00")
    assert mine.status_code == 303 and count(agency, Promise) == promises + 1


def test_a_clients_request_in_notes_is_acknowledged_with_a_receipt_draft(
        app: FastAPI, agency: Ledger) -> None:
    alice = signed_in(app, agency, "alice@example.com")
    page = review_page(alice, "Could you send us the updated quote by Friday?",
                       author="dana@acme.example")
    assert "Client request" in page
    drafts = count(agency, Notice, Notice.kind == "request_acknowledgement")
    logged = decide(alice, page, 0, "log", title="Send us the updated quote",
                    owner="alice@example.com", client="Acme", due="tomorrow 5pm")
    assert logged.status_code == 303
    assert count(agency, Notice, Notice.kind == "request_acknowledgement") == drafts + 1
    with Session(agency.engine) as session:
        promise = session.exec(select(Promise).where(Promise.source == "notes")).one()
    assert promise.title == "Reply: Send us the updated quote"


def test_notes_with_nothing_an_unknown_author_or_another_sessions_list_are_told_so(
        app: FastAPI, agency: Ledger) -> None:
    bob = signed_in(app, agency, "bob@example.com")
    empty = post(bob, "/notes", "/notes", notes="  ", client="", author="")
    assert empty.status_code == 400 and "notes" in field_errors(empty.text)
    nothing = post(bob, "/notes", "/notes", notes="We sent the deck last Friday.", client="",
                   author="")
    assert nothing.status_code == 200 and "No commitments or requests found" in nothing.text
    assert "We sent the deck last Friday." in nothing.text
    stranger = post(bob, "/notes", "/notes", notes=NOTES, client="", author="eve@example.com")
    assert stranger.status_code == 400
    assert "unknown member 'eve@example.com'" in field_errors(stranger.text)["author"]

    page = review_page(bob, NOTES, client="Acme", author="bob@example.com")
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    alice = signed_in(app, agency, "alice@example.com")
    elsewhere = alice.get(f"/notes/review?token={html.unescape(token)}")
    assert "made in another session" in flash(elsewhere.text)[0]


def test_the_findings_in_a_review_address_stay_out_of_access_logs() -> None:
    assert (redact('"GET /notes/review?token=eJyLjgUAARUAuQ.Z1x.abc HTTP/1.1" 200')
            == '"GET /notes/review?token=[redacted] HTTP/1.1" 200')
