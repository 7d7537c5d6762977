"""promises found in conversations, offered for a yes; Slack channels watched for them

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from reliability.models import UTCDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "suggestion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("origin_key", sa.String(length=300), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("sentence", sa.String(), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("promise_id", sa.Integer(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"]),
        sa.ForeignKeyConstraint(["promise_id"], ["promise.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("origin_key"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_suggestion_member_fingerprint", "suggestion",
                    ["member_id", "fingerprint"])
    op.create_index("ix_suggestion_status", "suggestion", ["status"])
    op.create_index("ix_suggestion_created_at", "suggestion", ["created_at"])
    op.create_table(
        "watched_channel",
        sa.Column("slack_channel_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("watched_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"]),
        sa.ForeignKeyConstraint(["watched_by_id"], ["member.id"]),
        sa.PrimaryKeyConstraint("slack_channel_id"),
    )


def downgrade() -> None:
    op.drop_table("watched_channel")
    op.drop_index("ix_suggestion_created_at", table_name="suggestion")
    op.drop_index("ix_suggestion_status", table_name="suggestion")
    op.drop_index("ix_suggestion_member_fingerprint", table_name="suggestion")
    op.drop_table("suggestion")
