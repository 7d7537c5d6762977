"""signed outgoing webhooks

Endpoints an admin registers for events; each delivery is a row of the outbox (`notice`,
kind `webhook`) that names its endpoint.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 05:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import reliability.models

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_endpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("secret", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("failures_in_a_row", sa.Integer(), nullable=False),
        sa.Column("disabled_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", reliability.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", reliability.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("removed_at", reliability.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("webhook_endpoint_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_notice_webhook_endpoint_id"),
                              ["webhook_endpoint_id"], unique=False)
        batch_op.create_foreign_key("fk_notice_webhook_endpoint_id", "webhook_endpoint",
                                    ["webhook_endpoint_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_constraint("fk_notice_webhook_endpoint_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_notice_webhook_endpoint_id"))
        batch_op.drop_column("webhook_endpoint_id")
    op.drop_table("webhook_endpoint")
