"""single-use sign-in links, sign-in rate limits, revocable sessions, removed members

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import reliability.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("removed_at", reliability.models.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "sign_in_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("next_path", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("created_at", reliability.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", reliability.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", reliability.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("sign_in_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_link_member_id"), ["member_id"])
    op.create_table(
        "sign_in_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", reliability.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("ip", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sign_in_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_request_at"), ["at"])
        batch_op.create_index(batch_op.f("ix_sign_in_request_email"), ["email"])
        batch_op.create_index(batch_op.f("ix_sign_in_request_ip"), ["ip"])
    op.create_table(
        "ended_session",
        sa.Column("session_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("forget_after", reliability.models.UTCDateTime(timezone=True),
                  nullable=False),
        sa.PrimaryKeyConstraint("session_hash"),
    )
    with op.batch_alter_table("ended_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ended_session_forget_after"), ["forget_after"])


def downgrade() -> None:
    op.drop_table("ended_session")
    op.drop_table("sign_in_request")
    op.drop_table("sign_in_link")
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_column("removed_at")
        batch_op.drop_column("session_generation")
