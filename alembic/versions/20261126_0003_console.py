"""agent console: message visibility

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import services.common.types  # noqa: F401
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing messages were all shown to everyone: they stay public.
    with op.batch_alter_table("ticket_messages") as batch:
        batch.add_column(sa.Column("visibility", sa.String(length=16), nullable=False, server_default="public"))


def downgrade() -> None:
    with op.batch_alter_table("ticket_messages") as batch:
        batch.drop_column("visibility")
