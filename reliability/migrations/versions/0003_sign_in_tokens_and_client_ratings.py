"""sign-in tokens and client ratings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:49:11.770678
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import reliability.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rating",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("at", reliability.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("overall", sa.Integer(), nullable=False),
        sa.Column("would_continue", sa.Integer(), nullable=True),
        sa.Column("would_recommend", sa.Integer(), nullable=True),
        sa.Column("to_make_it_5", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rating", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rating_client_id"), ["client_id"], unique=False)

    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True)
        )
        batch_op.add_column(
            sa.Column("calendar_token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_member_token_hash"), ["token_hash"], unique=True)
        batch_op.create_index(
            batch_op.f("ix_member_calendar_token"), ["calendar_token"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_calendar_token"))
        batch_op.drop_index(batch_op.f("ix_member_token_hash"))
        batch_op.drop_column("calendar_token")
        batch_op.drop_column("token_hash")

    with op.batch_alter_table("rating", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rating_client_id"))

    op.drop_table("rating")
