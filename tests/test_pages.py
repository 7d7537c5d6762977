"""Lists a page at a time: keyset cursors, next links, the 500-row cap, refusals of a bad
page, and the board's counts per group, through the API and the dashboard."""

import base64
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from helpers import at
from scenarios import START
from sqlalchemy import event
from sqlmodel import Session, col, select, update
from web_helpers import WEDNESDAY_10, app_for, signed_in, token_for, wednesday_agency

from reliability.ledger import Ledger
from reliability.mistakes import log_mistake
from reliability.models import Promise
from reliability.paging import cursor
from reliability.ratings import add_rating

MONDAY = at("2026-11-16T09:00-05:00")
NOW = WEDNESDAY_10


@pytest.fixture
def agency(ledger: Ledger) -> Ledger:
    """The Wednesday agency, with twelve more open promises of Alice's: four due on the
    same Friday (so the order needs its tie-breaker), and three overdue."""
    wednesday_agency(ledger)
    friday = at("2026-11-20T17:00-05:00")
    for index in range(12):
        due = (friday if index < 4 else at("2026-11-17T12:00-05:00") if index < 7
               else friday + timedelta(days=index))
        ledger.add_promise(title=f"Piece {index}", client_name="Acme",
                           owner_email="alice@example.com", due_at=due, now=MONDAY, actor="t")
    return ledger


@pytest.fixture
def app(agency: Ledger) -> FastAPI:
    return app_for(agency)


def api_as(app: FastAPI, ledger: Ledger, email: str) -> TestClient:
    return TestClient(app, headers={"Authorization": f"Bearer {token_for(ledger, email)}"})


def every_page(client: TestClient, path: str) -> list[dict[str, Any]]:
    """Follow the next links from `path` to the last page, checking each page's size."""
    rows: list[dict[str, Any]] = []
    limit = int(path.rsplit("limit=", 1)[1].split("&")[0]) if "limit=" in path else 50
    next_path: str | None = path
    while next_path:
        response = client.get(next_path)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= limit
        assert body["next"] is None or len(body["items"]) == limit
        rows += body["items"]
        next_path = body["next"]
    return rows


def test_following_next_links_lists_every_promise_once_in_due_order(
        app: FastAPI, agency: Ledger) -> None:
    bob = api_as(app, agency, "bob@example.com")
    whole = bob.get("/api/promises", params={"limit": 500}).json()
    assert whole["next"] is None
    paged = every_page(bob, "/api/promises?limit=5")
    assert [row["id"] for row in paged] == [row["id"] for row in whole["items"]]
    assert len(paged) == len({row["id"] for row in paged}) == 19
    assert [row["due_at"] for row in paged] == sorted(row["due_at"] for row in paged)


def test_the_next_link_keeps_the_filters_and_the_page_size(app: FastAPI, agency: Ledger) -> None:
    bob = api_as(app, agency, "bob@example.com")
    first = bob.get("/api/promises", params={"status": "open", "q": "piece", "limit": 4}).json()
    assert first["next"].startswith("/api/promises?")
    assert {"status=open", "q=piece", "limit=4"} <= set(first["next"].split("?")[1].split("&"))
    rest = every_page(bob, first["next"])
    titles = [row["title"] for row in first["items"] + rest]
    assert sorted(titles) == sorted(f"Piece {index}" for index in range(12))


def test_a_page_stays_put_when_a_promise_is_added_before_it(
        app: FastAPI, agency: Ledger) -> None:
    bob = api_as(app, agency, "bob@example.com")
    first = bob.get("/api/promises", params={"status": "open", "limit": 3}).json()
    second_before = bob.get(first["next"]).json()
    agency.add_promise(title="Sooner than all", client_name="Acme",
                       owner_email="alice@example.com", due_at=at("2026-11-17T08:00-05:00"),
                       now=MONDAY, actor="t")
    assert bob.get(first["next"]).json()["items"] == second_before["items"]


def test_a_page_larger_than_500_or_a_foreign_cursor_is_refused_with_a_clear_400(
        app: FastAPI, agency: Ledger) -> None:
    bob = api_as(app, agency, "bob@example.com")
    assert bob.get("/api/promises", params={"limit": 500}).status_code == 200
    too_many = bob.get("/api/promises", params={"limit": 501})
    assert too_many.status_code == 400
    assert too_many.json() == {"error": {
        "code": "bad_request", "message": "a page holds 1 to 500 rows, not 501",
        "field": "limit",
        "hint": "give a limit between 1 and 500 (default 50) and follow the next link for more"}}
    promise_cursor = bob.get("/api/promises", params={"limit": 1}).json()["next"]
    wrong = [cursor([1, 2]), cursor([NOW, "x"]), cursor([0, float("nan"), NOW, 1]),
             cursor([0, 0.5, NOW.replace(tzinfo=None), 1]), cursor([0, 0.5, NOW, 2**70]),
             cursor([True, 0.5, NOW, 1])]
    promise_page_cursor = promise_cursor.split("after=")[1]
    nested = base64.urlsafe_b64encode(b"[" * 300 + b"]" * 300).decode()  # a parser's recursion
    for after in ("not-a-cursor", "W10", "eyJ0IjoxfQ", promise_page_cursor, nested, *wrong):
        for path in ("/api/at-risk", "/api/promises"):
            if path == "/api/promises" and after == promise_page_cursor:
                continue  # the one it gave
            refused = bob.get(path, params={"after": after})
            assert refused.status_code == 400, (path, after)
            assert refused.json()["error"]["field"] == "after"
            assert (refused.json()["error"]["message"]
                    == "the cursor in 'after' is not one this list gave")


def test_the_board_counts_each_group_and_shows_the_worst_first(
        app: FastAPI, agency: Ledger) -> None:
    with Session(agency.engine) as session:
        session.exec(update(Promise).where(col(Promise.title).in_(["Piece 8", "Piece 9"]))
                     .values(level="watch", p_late=0.3))
        session.exec(update(Promise).where(Promise.title == "Piece 10")
                     .values(assess_error="unknown_calendar"))
        # Finished promises leave the board, whatever the scan last said of them.
        session.exec(update(Promise).where(col(Promise.title).in_(["Piece 0", "Piece 11"]))
                     .values(status="done", level="at_risk", assess_error="unexpected"))
        session.commit()
    bob = api_as(app, agency, "bob@example.com")
    board = bob.get("/api/at-risk", params={"limit": 2}).json()
    assert board["counts"] == {"overdue": 3, "at_risk": 1, "watch": 2, "unassessed": 1}
    rows = board["items"] + every_page(bob, board["next"])
    assert [row["level"] for row in rows] == [
        "overdue"] * 3 + ["at_risk"] + ["watch"] * 2 + ["on_track"]
    assert rows[-1]["title"] == "Piece 10"
    page = signed_in(app, agency, "bob@example.com").get("/board").text
    assert "<strong>3</strong> overdue" in page and "<strong>1</strong> at risk" in page
    assert "<strong>2</strong> to watch" in page and "<strong>1</strong> not assessed" in page


def test_the_board_reads_its_three_ways_in_from_indexes_not_every_open_promise(
        app: FastAPI, agency: Ledger) -> None:
    """Raised by the scan, past due, not assessed: each a range of its own index (migration
    0023), for the page and for its counts; the plan SQLite picks says so."""
    if agency.engine.dialect.name != "sqlite":
        pytest.skip("the planner's choice is read from SQLite's EXPLAIN QUERY PLAN")
    statements: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM promise" in statement and "assess_error IS NOT NULL" in statement:
            statements.append((statement, parameters))

    erin = api_as(app, agency, "erin@example.com")
    event.listen(agency.engine, "before_cursor_execute", keep)
    try:
        assert erin.get("/api/at-risk").json()["counts"]["overdue"] == 3
    finally:
        event.remove(agency.engine, "before_cursor_execute", keep)
    with agency.engine.connect() as connection:
        plans = [" ".join(str(row) for row in connection.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {statement}", parameters).all())
            for statement, parameters in statements]
    assert len(plans) == 2  # the page and its counts
    for plan in plans:
        assert "ix_promise_status_level (status=? AND level=?)" in plan
        assert "ix_promise_status_due_at (status=? AND due_at<?)" in plan
        assert "ix_promise_status_assess_error (status=? AND assess_error>?)" in plan


def test_the_promise_list_page_links_to_the_next_page(app: FastAPI, agency: Ledger) -> None:
    for index in range(40):
        agency.add_promise(title=f"Later {index}", client_name="Acme",
                           owner_email="alice@example.com",
                           due_at=at("2026-12-20T17:00-05:00"), now=MONDAY, actor="t")
    browser = signed_in(app, agency, "bob@example.com")
    first = browser.get("/promises").text
    assert first.count('<tr>\n  <td><a href="/promises/') == 50
    link = first.split('<a rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = browser.get(link).text
    assert second.count('<tr>\n  <td><a href="/promises/') == 3
    assert 'rel="next"' not in second
    client = browser.get("/clients/1").text
    assert 'href="/clients/1?after=' in client


def test_drafts_show_the_twenty_latest_sent_and_a_mistake_link_finds_its_page(
        app: FastAPI, agency: Ledger) -> None:
    ids = [log_mistake(agency, client_name="Acme", summary=f"Slip {index}",
                       prevention="Check twice", now=START + timedelta(hours=index), actor="t",
                       owner_email="alice@example.com").mistake.id for index in range(55)]
    browser = signed_in(app, agency, "bob@example.com")
    assert browser.get("/drafts").status_code == 200
    oldest = browser.get(f"/mistakes/{ids[0]}")
    assert f'id="mistake-{ids[0]}"' in oldest.text
    assert 'id="mistake-' + str(ids[-1]) + '"' not in oldest.text
    newest = browser.get("/mistakes").text
    assert newest.count('class="card" id="mistake-') == 50 and 'rel="next"' in newest
    api = api_as(app, agency, "erin@example.com")
    assert [row["summary"] for row in every_page(api, "/api/mistakes?limit=20")] == [
        f"Slip {index}" for index in range(54, -1, -1)]


def test_a_promises_events_and_a_clients_ratings_come_in_pages(
        app: FastAPI, agency: Ledger) -> None:
    for overall in (3, 4, 5):
        add_rating(agency, client_name="Acme", overall=overall, now=WEDNESDAY_10, actor="t")
    with Session(agency.engine) as session:
        q3 = session.exec(select(Promise.id).where(Promise.title == "Q3 report")).one()
    bob = api_as(app, agency, "bob@example.com")
    events = every_page(bob, f"/api/promises/{q3}/events?limit=2")
    assert events[0]["kind"] == "promise.made" and len(events) >= 3
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    assert [r["overall"] for r in every_page(bob, "/api/clients/1/ratings?limit=2")] == [
        5, 4, 3]
    mine = every_page(bob, "/api/clients/1/promises?limit=7")
    assert len(mine) == 19
    carol = api_as(app, agency, "carol@example.com")
    assert carol.get(f"/api/promises/{q3}/events").status_code == 404
    assert carol.get("/api/clients/1/promises").json() == {"items": [], "next": None}


def test_the_api_document_describes_the_page_size_and_the_cursor(
        app: FastAPI, agency: Ledger) -> None:
    document = api_as(app, agency, "bob@example.com").get("/openapi.json").json()
    parameters = {p["name"]: p for p in document["paths"]["/api/promises"]["get"]["parameters"]}
    assert parameters["limit"]["schema"]["maximum"] == 500
    assert parameters["limit"]["schema"]["default"] == 50
    assert "next" in parameters["after"]["description"]
    assert "next" in document["components"]["schemas"]["BoardOut"]["properties"]


def test_each_promise_reads_in_batches_what_the_whole_list_holds(agency: Ledger) -> None:
    whole = agency.promises()
    batched = list(agency.each_promise(batch=4))
    assert [v.promise.id for v in batched] == [v.promise.id for v in whole]
    assert [(v.client.name, v.owner.email) for v in batched] == [
        (v.client.name, v.owner.email) for v in whole]
    open_ones = [v.promise.id for v in agency.each_promise(status="open", batch=5)]
    assert open_ones == [v.promise.id for v in agency.promises(status="open")]


def test_a_long_timeline_comes_in_pages_each_entry_once_in_order(
        app: FastAPI, agency: Ledger) -> None:
    with Session(agency.engine) as session:
        q3 = session.exec(select(Promise.id).where(Promise.title == "Q3 report")).one()
    for hour in range(70):  # 70 check-ins: 70 events and 70 rows beside them
        agency.check_in(q3, status="on_track", progress=hour, now=MONDAY + timedelta(hours=hour),
                        actor="alice@example.com")
    bob = api_as(app, agency, "bob@example.com")
    pages, next_path = [], f"/api/promises/{q3}"
    while next_path:
        body = bob.get(next_path).json()
        pages.append(body["timeline"])
        next_path = body["next"]
    checkins = [entry["title"] for page in pages for entry in page
                if entry["title"].startswith("Check-in: on track (")]
    assert len(pages) == 2
    assert checkins == [f"Check-in: on track ({hour}%)" for hour in range(70)]
    assert [e["at"] for e in pages[0] + pages[1]] == sorted(e["at"] for e in pages[0] + pages[1])
    page = signed_in(app, agency, "bob@example.com").get(f"/promises/{q3}")
    assert "Later entries" in page.text and "(0%)" in page.text and "(69%)" not in page.text
