"""the forecast a promise was made under: p_late, the date offered, the date first asked

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reliability.models

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _moment(name: str) -> sa.Column[object]:
    return sa.Column(name, reliability.models.UTCDateTime(timezone=True), nullable=True)


def upgrade() -> None:
    with op.batch_alter_table("promise", schema=None) as batch_op:
        batch_op.add_column(sa.Column("capture_p_late", sa.Float(), nullable=True))
        batch_op.add_column(_moment("suggested_due_at"))
        batch_op.add_column(_moment("asked_due_at"))


def downgrade() -> None:
    with op.batch_alter_table("promise", schema=None) as batch_op:
        batch_op.drop_column("asked_due_at")
        batch_op.drop_column("suggested_due_at")
        batch_op.drop_column("capture_p_late")
