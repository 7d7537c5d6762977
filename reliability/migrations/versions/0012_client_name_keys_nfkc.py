"""client names compare NFKC case-folded

"Ａcme" (full-width) and "Acme" are one client, and a name typed decomposed (e + U+0301)
finds the one stored composed. Keys of names without compatibility or decomposed
characters (most names) were already this; the rest are recomputed here. A row whose new
key another client already has keeps its old key (and stays reachable by its old spelling
until an operator renames one of the two).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 04:00:00
"""

import unicodedata
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLIENT = sa.table("client", sa.column("id", sa.Integer), sa.column("name", sa.String),
                  sa.column("name_key", sa.String))


def _nfkc(name: str) -> str:
    """limits.name_key as of this revision, frozen here."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name.strip()).casefold())


def _casefolded(name: str) -> str:
    """The key before this revision."""
    return name.casefold()


def _rekey(key_of: Callable[[str], str]) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(CLIENT.c.id, CLIENT.c.name, CLIENT.c.name_key)).all()
    taken = {key for _, _, key in rows}
    for client_id, name, key in rows:
        new = key_of(name)
        if new != key and new not in taken:
            connection.execute(CLIENT.update().where(CLIENT.c.id == client_id)
                               .values(name_key=new))
            taken = (taken - {key}) | {new}


def upgrade() -> None:
    _rekey(_nfkc)


def downgrade() -> None:
    _rekey(_casefolded)
