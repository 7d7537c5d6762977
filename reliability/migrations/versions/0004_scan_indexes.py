"""indexes for the scan's history and load queries

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 09:54:00.086990
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("promise", schema=None) as batch_op:
        batch_op.create_index(
            "ix_promise_owner_status_done_at", ["owner_id", "status", "done_at"], unique=False
        )
        batch_op.create_index(
            "ix_promise_owner_status_due_at", ["owner_id", "status", "due_at"], unique=False
        )
        batch_op.create_index("ix_promise_status_done_at", ["status", "done_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("promise", schema=None) as batch_op:
        batch_op.drop_index("ix_promise_status_done_at")
        batch_op.drop_index("ix_promise_owner_status_due_at")
        batch_op.drop_index("ix_promise_owner_status_done_at")
