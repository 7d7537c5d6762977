"""index open promises by level and by why the scan could not assess them

The board (and `/api/at-risk`) holds the open promises the scan raised (overdue, at risk,
watch), those past due, and those it could not assess. With only `(status, due_at)` the
database read every open promise's row to find them: 15,226 rows for the 452 on the board
of a busy team's million promises, twice (the page and its counts). With `(status, level)`
and `(status, assess_error)` each way onto the board is a range of an index: the admin's
board statements went from 62 ms to 4 ms (bench/bench_reads.py --full, SQLite). The digest
reads the same ranges. The scan's update sets both columns on every promise it assesses,
so each assessment writes these two indexes as well: bench/bench_scan.py (200,000 promises,
1,000 due) stayed within its noise, a re-assessment tick 0.437 s before and 0.444 s after on
SQLite, 0.584 s and 0.624 s on PostgreSQL, run one after the other (load 2.6-3.1).

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30 12:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_promise_status_level", "promise", ["status", "level"])
    op.create_index("ix_promise_status_assess_error", "promise", ["status", "assess_error"])


def downgrade() -> None:
    op.drop_index("ix_promise_status_assess_error", table_name="promise")
    op.drop_index("ix_promise_status_level", table_name="promise")
