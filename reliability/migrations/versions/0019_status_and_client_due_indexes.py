"""index open promises and a client's promises by due date and first due date

Open promises are the few: with `(status, due_at)` a page of them soonest due first reads
its rows from the index instead of sorting every open promise (or walking every finished
one's due date). With `(client_id, due_at)` a client's list, for a manager filtered by their
team, walks that client's promises only, not the whole ledger's due dates; with
`(client_id, original_due_at)` the client page's figures read that client's promises due in
their range, not every client's.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 08:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_promise_status_due_at", "promise", ["status", "due_at"])
    op.create_index("ix_promise_client_due_at", "promise", ["client_id", "due_at"])
    op.create_index("ix_promise_client_original_due_at", "promise",
                    ["client_id", "original_due_at"])


def downgrade() -> None:
    op.drop_index("ix_promise_client_original_due_at", table_name="promise")
    op.drop_index("ix_promise_client_due_at", table_name="promise")
    op.drop_index("ix_promise_status_due_at", table_name="promise")
