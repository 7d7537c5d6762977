"""indexes for the scan's claim and its history read

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:58:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("promise", schema=None) as batch_op:
        batch_op.drop_index("ix_promise_owner_status_done_at")
        batch_op.create_index(
            "ix_promise_owner_history",
            ["owner_id", "status", "done_at", "made_at", "original_due_at"],
            unique=False,
        )
        batch_op.drop_index("ix_promise_next_check_at")
        batch_op.create_index(
            "ix_promise_status_next_check_at", ["status", "next_check_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("promise", schema=None) as batch_op:
        batch_op.drop_index("ix_promise_status_next_check_at")
        batch_op.create_index("ix_promise_next_check_at", ["next_check_at"], unique=False)
        batch_op.drop_index("ix_promise_owner_history")
        batch_op.create_index(
            "ix_promise_owner_status_done_at", ["owner_id", "status", "done_at"], unique=False
        )
