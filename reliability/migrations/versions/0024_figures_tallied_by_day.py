"""tally the ledger's figures per owner, client and UTC day

At a full million promises an admin's 90-day figures read about 126,000 promises and
judged about 24,000 rows in Python (told promises, check-in requests): a second for
`/reliability`. The tally keeps each day's final parts (promises made, renegotiations,
promises finished by outcome and notice, check-in requests answered or not) per owner, per
client and per owner and client, rebuilt day by day in the transaction of the command that
changes one (reliability/tallies.py), so a figure sums days, not promises.

A ledger with promises in it is counted from the rows until `reliability recount` (which
`reliability init` runs after this upgrade) fills the tally: what a told promise's notice
lead and a request's answer deadline are takes the business calendar, which is Python's.
An empty ledger starts complete.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from reliability.models import UTCDateTime

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ["kind", "code", "lead", "kept", "number"]


def upgrade() -> None:
    op.create_table(
        "tally",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("grouping", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("lead", sa.Integer(), nullable=True),
        sa.Column("kept", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
    )
    op.create_index("ix_tally_days", "tally",
                    ["grouping", "day", "owner_id", "client_id", *_COLUMNS])
    op.create_index("ix_tally_owner_days", "tally",
                    ["grouping", "owner_id", "day", "client_id", *_COLUMNS])
    op.create_index("ix_tally_client_days", "tally",
                    ["grouping", "client_id", "day", "owner_id", *_COLUMNS])
    op.create_table(
        "tally_day",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("kind", sa.Integer(), primary_key=True),
        sa.Column("open", sa.Integer(), nullable=False),
        sa.Column("settles_by", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "tally_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("counted_at", UTCDateTime(), nullable=False),
    )
    op.execute("INSERT INTO tally_state (id, counted_at) SELECT 1, CURRENT_TIMESTAMP "
               "WHERE NOT EXISTS (SELECT 1 FROM promise)")


def downgrade() -> None:
    op.drop_table("tally_state")
    op.drop_table("tally_day")
    for name in ("ix_tally_client_days", "ix_tally_owner_days", "ix_tally_days"):
        op.drop_index(name, table_name="tally")
    op.drop_table("tally")
