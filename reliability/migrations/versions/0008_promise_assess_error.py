"""a promise the scan could not assess says why

The scan marks such a promise instead of failing the tick for the whole team, and skips it
until it changes; the dashboard and the digest show the reason.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("promise", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assess_error", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("promise", schema=None) as batch_op:
        batch_op.drop_column("assess_error")
