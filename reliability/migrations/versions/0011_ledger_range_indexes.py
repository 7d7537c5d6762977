"""index the dates the ledger's figures read a range by

A range of the ledger is the promises made or first due in it, the renegotiations and the
check-in requests of it: without these indexes each figure read every promise ever stored.
The trust view counts each client's promises from a covering index that also replaces the
plain client_id one.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 03:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_promise_made_at", "promise", ["made_at"])
    op.create_index("ix_promise_original_due_at", "promise", ["original_due_at"])
    op.create_index("ix_due_change_changed_at", "due_change", ["changed_at"])
    op.create_index("ix_notice_kind_created_at", "notice", ["kind", "created_at"])
    op.create_index("ix_promise_client_history", "promise", ["client_id", "internal", "made_at"])
    op.drop_index("ix_promise_client_id", table_name="promise")


def downgrade() -> None:
    op.create_index("ix_promise_client_id", "promise", ["client_id"])
    op.drop_index("ix_promise_client_history", table_name="promise")
    op.drop_index("ix_notice_kind_created_at", table_name="notice")
    op.drop_index("ix_due_change_changed_at", table_name="due_change")
    op.drop_index("ix_promise_original_due_at", table_name="promise")
    op.drop_index("ix_promise_made_at", table_name="promise")
