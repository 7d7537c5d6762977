"""risk, outbox and mistakes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:37:30.081006
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import reliability.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assessment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("promise_id", sa.Integer(), nullable=False),
        sa.Column("at", reliability.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("level", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("p_late", sa.Float(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("notice_by", reliability.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_action", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column(
            "forecast_done_at", reliability.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("evidence", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["promise_id"],
            ["promise.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assessment_promise_id"), ["promise_id"], unique=False)

    op.create_table(
        "mistake",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("promise_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("prevention", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("severity", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("credit_amount", sa.Float(), nullable=True),
        sa.Column("credit_currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
        sa.Column("fixed", sa.Boolean(), nullable=False),
        sa.Column("repeat_of_id", sa.Integer(), nullable=True),
        sa.Column("prevention_promise_id", sa.Integer(), nullable=True),
        sa.Column("created_at", reliability.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client.id"],
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["member.id"],
        ),
        sa.ForeignKeyConstraint(
            ["prevention_promise_id"],
            ["promise.id"],
        ),
        sa.ForeignKeyConstraint(
            ["promise_id"],
            ["promise.id"],
        ),
        sa.ForeignKeyConstraint(
            ["repeat_of_id"],
            ["mistake.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("mistake", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mistake_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_mistake_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_mistake_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("promise_id", sa.Integer(), nullable=True),
        sa.Column("mistake_id", sa.Integer(), nullable=True),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("recipient", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("recipient_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("reply_to", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("html", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("blocks", sa.JSON(), nullable=True),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("approver_note", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("proposed_due_at", reliability.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", reliability.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("approved_at", reliability.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("snoozed_until", reliability.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("escalate_at", reliability.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", reliability.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_until", reliability.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("leased_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("sent_at", reliability.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("provider_id", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("cancel_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client.id"],
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
        ),
        sa.ForeignKeyConstraint(
            ["mistake_id"],
            ["mistake.id"],
        ),
        sa.ForeignKeyConstraint(
            ["promise_id"],
            ["promise.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_notice_escalate_at"), ["escalate_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_notice_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_notice_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_notice_mistake_id"), ["mistake_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_notice_next_attempt_at"), ["next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_notice_promise_id"), ["promise_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_notice_status"), ["status"], unique=False)

    op.create_table(
        "notice_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("started_at", reliability.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("worker", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("provider_id", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["notice.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("notice_attempt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notice_attempt_notice_id"), ["notice_id"], unique=False
        )

    with op.batch_alter_table("promise", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "level",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="on_track",
            )
        )
        batch_op.add_column(sa.Column("p_late", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("risk_reasons", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("assessed_at", reliability.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("next_check_at", reliability.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_promise_next_check_at"), ["next_check_at"], unique=False
        )
    # Promises made before the scanner existed are assessed on its first tick.
    op.execute("UPDATE promise SET next_check_at = made_at WHERE status = 'open'")


def downgrade() -> None:
    with op.batch_alter_table("promise", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_promise_next_check_at"))
        batch_op.drop_column("next_check_at")
        batch_op.drop_column("assessed_at")
        batch_op.drop_column("risk_reasons")
        batch_op.drop_column("p_late")
        batch_op.drop_column("level")

    with op.batch_alter_table("notice_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_attempt_notice_id"))

    op.drop_table("notice_attempt")
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_status"))
        batch_op.drop_index(batch_op.f("ix_notice_promise_id"))
        batch_op.drop_index(batch_op.f("ix_notice_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_notice_mistake_id"))
        batch_op.drop_index(batch_op.f("ix_notice_member_id"))
        batch_op.drop_index(batch_op.f("ix_notice_kind"))
        batch_op.drop_index(batch_op.f("ix_notice_escalate_at"))
        batch_op.drop_index(batch_op.f("ix_notice_client_id"))

    op.drop_table("notice")
    with op.batch_alter_table("mistake", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mistake_owner_id"))
        batch_op.drop_index(batch_op.f("ix_mistake_created_at"))
        batch_op.drop_index(batch_op.f("ix_mistake_client_id"))

    op.drop_table("mistake")
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assessment_promise_id"))

    op.drop_table("assessment")
