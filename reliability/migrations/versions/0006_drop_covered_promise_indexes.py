"""drop the promise indexes that composite indexes already lead with

Every index costs the scan's update of next_check_at a write; owner_id leads
ix_promise_owner_history and ix_promise_owner_status_due_at, status leads
ix_promise_status_next_check_at and ix_promise_status_done_at.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 14:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("promise", schema=None) as batch_op:
        batch_op.drop_index("ix_promise_owner_id")
        batch_op.drop_index("ix_promise_status")


def downgrade() -> None:
    with op.batch_alter_table("promise", schema=None) as batch_op:
        batch_op.create_index("ix_promise_status", ["status"], unique=False)
        batch_op.create_index("ix_promise_owner_id", ["owner_id"], unique=False)
