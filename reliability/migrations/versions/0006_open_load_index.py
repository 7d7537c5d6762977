"""an index for the scan's open-load read; drop the indexes the composite ones cover

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
        batch_op.drop_index("ix_promise_owner_status_due_at")
        batch_op.create_index(
            "ix_promise_status_due_at", ["status", "due_at", "owner_id"], unique=False
        )
        batch_op.drop_index("ix_promise_owner_id")
        batch_op.drop_index("ix_promise_status")


def downgrade() -> None:
    with op.batch_alter_table("promise", schema=None) as batch_op:
        batch_op.create_index("ix_promise_status", ["status"], unique=False)
        batch_op.create_index("ix_promise_owner_id", ["owner_id"], unique=False)
        batch_op.drop_index("ix_promise_status_due_at")
        batch_op.create_index(
            "ix_promise_owner_status_due_at", ["owner_id", "status", "due_at"], unique=False
        )
