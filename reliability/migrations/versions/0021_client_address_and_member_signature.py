"""how a Swedish letter addresses the client, and a member's own signature

A client may be addressed as du instead of ni; a member's signature closes their client
letters instead of their name and the team's name. Existing clients keep ni.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 09:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=4), nullable=False,
                                      server_default="ni"))
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signature", sa.String(length=400), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_column("signature")
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.drop_column("address")
