"""risk reasons as codes with facts; a check-in's reason for the client

Risk reasons were English sentences; they are now a code and its facts, put in words in each
reader's language when shown. Old sentences cannot be turned back into facts, so they are
cleared: the promise's reasons come back at its next assessment (its next check is due now),
and past assessments keep their level and odds without the old wording.

A check-in gains `client_reason`, what the client may be told, apart from the team's note.

Revision ID: 0016
Revises: 0015 (the integrator re-chains it after 0015)
Create Date: 2026-11-30 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_reason", sa.String(length=1000), nullable=True))
    promise = sa.table("promise", sa.column("risk_reasons", sa.JSON()),
                       sa.column("status", sa.String()),
                       sa.column("next_check_at", sa.DateTime(timezone=True)),
                       sa.column("assessed_at", sa.DateTime(timezone=True)))
    op.execute(promise.update().where(promise.c.risk_reasons.is_not(None))
               .values(risk_reasons=sa.null()))
    op.execute(promise.update()
               .where(promise.c.status == "open", promise.c.assessed_at.is_not(None))
               .values(next_check_at=promise.c.assessed_at))
    assessment = sa.table("assessment", sa.column("reasons", sa.JSON()))
    op.execute(assessment.update().values(reasons=[]))


def downgrade() -> None:
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.drop_column("client_reason")
