"""keep beside the events what the ledger's figures read, and cover their ranges

At a million promises a figure read its window's promises through the date index and each
row from the table, with two lookups per promise for whether the client was told of a slip,
and the check-ins of every request: seconds per page. Now, kept in the transaction that
records each event (reliability/rollups.py, rebuilt by `reliability recount`):

- promise.client_told_at / client_told_due_at: when the client first heard of a slip and
  the latest date they were told;
- notice.answered_at: a check-in request's first check-in at or after it;
- client.promises_made / first_promise_at / last_promise_at: the trust view's all-time
  counts.

Covering indexes replace the date indexes the figures read (everyone's made_at and
original_due_at, a team's by owner, a client's), so a window is counted from the index
alone. Existing rows are filled in here.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30 12:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from reliability.models import UTCDateTime

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here as the schema stood: a later model change must not change this migration.
FILL = (
    """UPDATE promise SET
         client_told_at = (SELECT min(told) FROM (
             SELECT coalesce(due_change.client_told_at, due_change.changed_at) AS told
               FROM due_change WHERE due_change.promise_id = promise.id
                AND due_change.client_told = true
             UNION ALL
             SELECT notice.sent_at FROM notice WHERE notice.promise_id = promise.id
                AND notice.kind = 'delay_notice' AND notice.status = 'sent'
                AND notice.sent_at IS NOT NULL) AS heard),
         client_told_due_at = (SELECT max(told) FROM (
             SELECT due_change.new_due_at AS told
               FROM due_change WHERE due_change.promise_id = promise.id
                AND due_change.client_told = true
             UNION ALL
             SELECT notice.proposed_due_at FROM notice WHERE notice.promise_id = promise.id
                AND notice.kind = 'delay_notice' AND notice.status = 'sent'
                AND notice.sent_at IS NOT NULL) AS dates)
       WHERE id IN (SELECT promise_id FROM due_change WHERE client_told = true
                    UNION SELECT promise_id FROM notice WHERE kind = 'delay_notice'
                      AND status = 'sent' AND sent_at IS NOT NULL AND promise_id IS NOT NULL)""",
    """UPDATE notice SET answered_at = (
         SELECT min(checkin.at) FROM checkin WHERE checkin.promise_id = notice.promise_id
            AND checkin.at >= notice.created_at)
       WHERE kind = 'checkin_request' AND promise_id IS NOT NULL""",
    """UPDATE client SET
         promises_made = (SELECT count(*) FROM promise WHERE promise.client_id = client.id
                            AND promise.internal = false),
         first_promise_at = (SELECT min(made_at) FROM promise
                               WHERE promise.client_id = client.id AND promise.internal = false),
         last_promise_at = (SELECT max(made_at) FROM promise
                              WHERE promise.client_id = client.id AND promise.internal = false)""",
)

_DUE = ["original_due_at", "internal", "owner_id", "client_id", "done_at", "cancelled_at",
        "due_at", "client_told_at"]
_MADE = ["made_at", "internal", "owner_id", "client_id"]
COVERING = {
    "ix_promise_original_due_figures": _DUE,
    "ix_promise_made_figures": _MADE,
    "ix_promise_owner_original_due_figures": ["owner_id", *(c for c in _DUE if c != "owner_id")],
    "ix_promise_owner_made_figures": ["owner_id", *(c for c in _MADE if c != "owner_id")],
    "ix_promise_client_original_due_figures": ["client_id",
                                               *(c for c in _DUE if c != "client_id")],
    "ix_promise_client_made_figures": ["client_id", *(c for c in _MADE if c != "client_id")],
}
REPLACED = {
    "ix_promise_original_due_at": ["original_due_at"],
    "ix_promise_made_at": ["made_at"],
    "ix_promise_owner_original_due_at": ["owner_id", "original_due_at"],
    "ix_promise_owner_made_at": ["owner_id", "made_at"],
    "ix_promise_client_original_due_at": ["client_id", "original_due_at"],
}


def upgrade() -> None:
    op.add_column("promise", sa.Column("client_told_at", UTCDateTime(), nullable=True))
    op.add_column("promise", sa.Column("client_told_due_at", UTCDateTime(), nullable=True))
    op.add_column("notice", sa.Column("answered_at", UTCDateTime(), nullable=True))
    op.add_column("client", sa.Column("promises_made", sa.Integer(), nullable=False,
                                      server_default="0"))
    op.add_column("client", sa.Column("first_promise_at", UTCDateTime(), nullable=True))
    op.add_column("client", sa.Column("last_promise_at", UTCDateTime(), nullable=True))
    for statement in FILL:
        op.execute(statement)
    for name in REPLACED:
        op.drop_index(name, table_name="promise")
    for name, columns in COVERING.items():
        op.create_index(name, "promise", columns)


def downgrade() -> None:
    for name in COVERING:
        op.drop_index(name, table_name="promise")
    for name, columns in REPLACED.items():
        op.create_index(name, "promise", columns)
    for table, column in (("client", "last_promise_at"), ("client", "first_promise_at"),
                          ("client", "promises_made"), ("notice", "answered_at"),
                          ("promise", "client_told_due_at"), ("promise", "client_told_at")):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column(column)
