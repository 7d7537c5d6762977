"""a client's greeting form, what a check-in waits for from the client, and how a credit
reaches the client and what it is for

Letters greet a contact the way they are addressed ("Dana", "Dr Reed", "王经理"), and a
mistake note says whether a credit is the overcharge returned or goodwill on top, and
whether it comes as a credit note, a refund or a reissued invoice. A check-in can say what
the client still has to send, so the delay letter asks for it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("greeting", sa.String(length=100), nullable=True))
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waiting_for", sa.String(length=500), nullable=True))
    with op.batch_alter_table("mistake", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credit_method", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("credit_basis", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mistake", schema=None) as batch_op:
        batch_op.drop_column("credit_basis")
        batch_op.drop_column("credit_method")
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.drop_column("waiting_for")
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.drop_column("greeting")
