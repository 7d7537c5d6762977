"""Storage: migrations build exactly the schema the models describe, on both backends."""

import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from reliability.access import Actor
from reliability.db import (
    _alembic_config,
    among,
    head_revision,
    insert_rows,
    make_engine,
    read_session,
    upgrade,
)
from reliability.digest import digest_for
from reliability.ledger import Ledger
from reliability.members import issue_personal_token
from reliability.models import Client, Event, Notice
from reliability.signins import by_token


def test_the_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_upgrading_twice_changes_nothing(engine: Engine) -> None:
    assert upgrade(engine) == head_revision()
    assert upgrade(engine) == head_revision()


def test_moments_are_stored_in_utc_and_read_back_aware(engine: Engine) -> None:
    stockholm_noon = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=1)))
    with Session(engine) as session:
        client = Client(name="Nord", name_key="nord", email="a@nord.example",
                        timezone="Europe/Stockholm", created_at=stockholm_noon)
        session.add(client)
        session.commit()
        client_id = client.id
    with Session(engine) as session:
        stored = session.get(Client, client_id)
        assert stored is not None
        assert stored.created_at.tzinfo is not None
        assert stored.created_at == stockholm_noon
        assert stored.created_at.utcoffset() == timedelta(0)


def test_sqlite_keeps_moments_as_utc_text_that_sorts_in_time_order(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL keeps a zone")
    stockholm_noon = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=1)))
    with Session(engine) as session:
        session.add(Client(name="Nord", name_key="nord", email="a@nord.example",
                           timezone="Europe/Stockholm", created_at=stockholm_noon))
        session.commit()
    with engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT created_at FROM client").scalar()
    assert stored == "2026-11-23 11:00:00.000000"


def test_postgresql_sessions_speak_utc_whatever_the_server_default(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps no zone")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SHOW TimeZone").scalar() == "UTC"
        moment = connection.exec_driver_sql("SELECT now()").scalar()
        assert moment.tzinfo is UTC


def test_postgresql_options_given_in_the_url_are_kept_beside_utc(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL connection options")
    url = engine.url.update_query_dict({"options": "-c statement_timeout=4321"})
    with_options = make_engine(url.render_as_string(hide_password=False))
    try:
        with with_options.connect() as connection:
            assert connection.exec_driver_sql("SHOW statement_timeout").scalar() == "4321ms"
            assert connection.exec_driver_sql("SHOW TimeZone").scalar() == "UTC"
    finally:
        with_options.dispose()


def test_postgresql_compiles_no_plan_with_jit_unless_the_options_ask(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL connection options")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SHOW jit").scalar() == "off"
    url = engine.url.update_query_dict({"options": "-c jit=on"})
    asked = make_engine(url.render_as_string(hide_password=False))
    try:
        with asked.connect() as connection:
            assert connection.exec_driver_sql("SHOW jit").scalar() == "on"
    finally:
        asked.dispose()


def test_moments_come_back_in_utc_even_from_a_session_in_another_zone(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps no zone")
    noon = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    with Session(engine) as session:
        session.add(Client(name="Huang", name_key="huang", email="a@huang.example",
                           timezone="Asia/Shanghai", created_at=noon))
        session.commit()
        session.exec(sa.text("SET TIME ZONE 'Asia/Shanghai'"))  # as behind a pooler
        created = session.exec(select(Client.created_at)).one()
    assert created == noon and created.tzinfo is UTC


def test_a_batch_lookup_finds_the_same_rows_on_both_backends(engine: Engine) -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    with Session(engine) as session:
        for name in ("Acme", "Nord", "Huang"):
            session.add(Client(name=name, name_key=name.lower(), email=f"a@{name}.example",
                               timezone="UTC", created_at=now))
        session.commit()

        def names(condition: sa.ColumnElement[bool]) -> list[str]:
            return list(session.exec(select(Client.name).where(condition)
                                     .order_by(Client.name)).all())

        assert names(among(session, Client.id, [1, 3])) == ["Acme", "Huang"]
        assert names(among(session, Client.name_key, {"nord", "nobody"})) == ["Nord"]
        assert names(among(session, Client.id, [])) == []


def test_a_batch_lookup_reads_the_same_on_postgresql_whatever_the_batch_size(
    engine: Engine,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's IN list is cheap to parse")
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        with Session(engine) as session:
            for size in (2, 500):
                session.exec(select(Client.id).where(among(session, Client.id, range(size))))
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert len(sent) == 2 and sent[0] == sent[1]


def test_rows_inserted_in_bulk_read_back_as_one_by_one_with_column_defaults(
    engine: Engine,
) -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=1)))
    awkward = {"note": "tab\there, new\nline, back\\slash, \"quoted\", 完成, åtgärd"}
    notice = {"kind": "checkin_request", "channel": "email", "recipient": "a@x.example",
              "locale": "sv", "subject": "Läget?", "text": "Hej\n\tdär", "html": None,
              "blocks": None, "context": awkward, "created_by": "rule:scan", "created_at": now}
    with Session(engine) as session:
        session.add(Notice(**notice, idempotency_key="one-by-one"))
        session.commit()
        insert_rows(session, Notice, [{**notice, "idempotency_key": "bulk"}])
        insert_rows(session, Event, [{"at": now, "actor": "rule:scan", "kind": "k",
                                      "promise_id": None, "payload": awkward}] * 2)
        session.commit()
    with Session(engine) as session:
        single, bulk = session.exec(select(Notice).order_by(Notice.id)).all()
        events = session.exec(select(Event)).all()
    for column in ("subject", "text", "html", "blocks", "context", "created_at", "status",
                   "attempts"):
        assert getattr(bulk, column) == getattr(single, column), column
    assert (bulk.status, bulk.attempts, bulk.context) == ("draft", 0, awkward)
    assert bulk.created_at.utcoffset() == timedelta(0)
    assert [(e.payload, e.at) for e in events] == [(awkward, now)] * 2
    with engine.connect() as connection:
        assert connection.exec_driver_sql(
            "SELECT count(*) FROM notice GROUP BY blocks IS NULL").all() == [(2,)]


def test_a_bulk_insert_that_breaks_a_rule_raises_the_usual_error_and_writes_nothing(
    engine: Engine,
) -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    notice = {"kind": "checkin_request", "idempotency_key": "same", "channel": "email",
              "recipient": "a@x.example", "locale": "en", "subject": "s", "text": "t",
              "context": {}, "created_by": "rule:scan", "created_at": now}
    with Session(engine) as session:
        with pytest.raises(sa.exc.IntegrityError):
            insert_rows(session, Notice, [notice, notice])
        session.rollback()
        assert session.exec(select(Notice)).all() == []


def test_a_naive_datetime_is_refused_before_it_reaches_the_database(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(Client(name="Naive", name_key="naive", email="n@x.example", timezone="UTC",
                           created_at=datetime(2026, 11, 23, 12, 0)))
        with pytest.raises(sa.exc.StatementError, match="naive datetime"):
            session.commit()


def test_every_migration_can_be_undone_and_redone(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'roundtrip.db'}")
    upgrade(engine)
    with engine.begin() as connection:
        command.downgrade(_alembic_config(connection), "base")
    with engine.connect() as connection:
        assert sa.inspect(connection).get_table_names() == ["alembic_version"]
    assert upgrade(engine) == head_revision()


def test_a_long_read_does_not_keep_a_writer_waiting_on_sqlite(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL readers never hold writers off")
    writer = sqlite3.connect(str(engine.url.database), timeout=0.2, isolation_level=None)
    with read_session(engine) as reading:
        reading.exec(select(Client)).all()  # a report half-way through its reads
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE client SET name = name")
        writer.execute("COMMIT")
    with Session(engine) as writing:
        writing.exec(select(Client)).all()  # a command reads before it writes, lock held
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            writer.execute("BEGIN IMMEDIATE")
    writer.close()


def test_the_ledger_range_indexes_come_and_go_with_their_migration(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'indexes.db'}")
    upgrade(engine)
    ranges = {"ix_promise_made_figures", "ix_promise_original_due_figures",
              "ix_due_change_changed_at",
              "ix_notice_kind_created_at", "ix_promise_client_history"}

    def indexes() -> set[str]:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            return {index["name"] for table in ("promise", "due_change", "notice")
                    for index in inspector.get_indexes(table)}

    assert ranges <= indexes()
    with engine.begin() as connection:
        command.downgrade(_alembic_config(connection), "0010")
    assert not ranges & indexes() and "ix_promise_client_id" in indexes()
    assert upgrade(engine) == head_revision()
    assert ranges <= indexes() and "ix_promise_client_id" not in indexes()


def test_a_client_stored_full_width_or_decomposed_is_found_by_its_plain_name_after_upgrading(
        tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'keys.db'}")
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0011")
        for name in ("\uff21cme", "Cafe\u0301", "Globex"):
            connection.execute(sa.text(
                "INSERT INTO client (name, name_key, email, locale, timezone, channel, "
                "auto_send, confirm_promises, created_at) VALUES (:name, :key, 'a@b.example', "
                "'en', 'UTC', 'email', 0, 0, '2026-11-01 00:00:00')"),
                {"name": name, "key": name.casefold()})
    assert upgrade(engine) == head_revision()
    with Session(engine) as session:
        keys = sorted(session.exec(select(Client.name_key)).all())
    assert keys == ["acme", "caf\u00e9", "globex"]


def test_english_risk_sentences_stored_before_reason_codes_are_cleared_for_reassessment(
        tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'reasons.db'}")
    moment, later = "2026-11-18 14:00:00", "2026-11-25 14:00:00"
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0013")
        connection.execute(sa.text(
            "INSERT INTO client (id, name, name_key, email, locale, timezone, channel, "
            "auto_send, confirm_promises, created_at) VALUES (1, 'Acme', 'acme', 'a@b.example', "
            "'en', 'UTC', 'email', 0, 0, :at)"), {"at": moment})
        connection.execute(sa.text(
            "INSERT INTO member (id, email, name, timezone, role, digest_channel, created_at, "
            "session_generation) VALUES (1, 'a@b.example', 'Alice', 'UTC', 'member', 'email', "
            ":at, 0)"), {"at": moment})
        connection.execute(sa.text(
            "INSERT INTO promise (id, title, client_id, owner_id, made_at, due_at, "
            "original_due_at, status, source, internal, level, risk_reasons, assessed_at, "
            "next_check_at) VALUES (1, 'Q3', 1, 1, :at, :later, :later, 'open', 'cli', 0, "
            "'watch', :reasons, :at, :later)"),
            {"at": moment, "later": later, "reasons": '["Little history for Alice (0 promises)'
                                                      ': using a wide prior"]'})
        connection.execute(sa.text(
            "INSERT INTO assessment (promise_id, at, level, p_late, reasons, notice_by, "
            "next_action, forecast_done_at, evidence) VALUES (1, :at, 'watch', 0.3, :reasons, "
            ":later, 'none', :later, 'prior')"),
            {"at": moment, "later": later, "reasons": '["Past due since Friday 17:00"]'})

    assert upgrade(engine) == head_revision()

    with engine.connect() as connection:
        promise = connection.execute(sa.text(
            "SELECT risk_reasons, next_check_at FROM promise")).one()
        reasons = connection.execute(sa.text("SELECT reasons FROM assessment")).scalar_one()
    assert promise.risk_reasons is None and promise.next_check_at.startswith(moment)
    assert reasons == "[]"


def test_a_digest_and_a_sign_in_read_without_keeping_a_writer_waiting_on_sqlite(
        agency: Ledger) -> None:
    if agency.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL readers never hold writers off")
    writer = sqlite3.connect(str(agency.engine.url.database), timeout=0.2,
                             isolation_level=None)
    refused: list[str] = []

    def write_beside(*_: object) -> None:
        """After each statement the read makes, a writer commits (as the scan would)."""
        try:
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("UPDATE client SET name = name")
            writer.execute("COMMIT")
        except sqlite3.OperationalError as error:
            refused.append(str(error))

    now = datetime(2026, 11, 18, 14, tzinfo=UTC)
    token = issue_personal_token(agency, "bob@example.com", now=now, actor="t")
    sa.event.listen(agency.engine, "after_cursor_execute", write_beside)
    try:
        digest = digest_for(agency, Actor("cli:test"), "bob@example.com", now=now)
        signed_in = by_token(agency, token)
    finally:
        sa.event.remove(agency.engine, "after_cursor_execute", write_beside)
        writer.close()
    assert refused == []
    assert digest["reliability"] is not None
    assert signed_in is not None and signed_in.member.email == "bob@example.com"
