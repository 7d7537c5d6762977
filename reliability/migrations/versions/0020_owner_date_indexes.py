"""index a team's promises by the day they were made and first due

The ledger's figures read a range by a promise's made or first due date. For an admin the
date's own index is the way in; for a manager it read every owner's promises in the range to
keep their team's (a team of ten among 200 is one row in twenty). With `(owner_id, made_at)`
and `(owner_id, original_due_at)` a manager's figures read their team's promises in the range
only: `/reliability` for a manager over a busy team's million promises went from 8.1 s to
1.8 s for its counts (bench/bench_reads.py --full).

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 09:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_promise_owner_made_at", "promise", ["owner_id", "made_at"])
    op.create_index("ix_promise_owner_original_due_at", "promise",
                    ["owner_id", "original_due_at"])


def downgrade() -> None:
    op.drop_index("ix_promise_owner_original_due_at", table_name="promise")
    op.drop_index("ix_promise_owner_made_at", table_name="promise")
