"""money integrity: settlements, job fencing

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import services.common.types
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payment_settlements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("chain", sa.String(length=32), nullable=False),
        sa.Column("tx_hash", sa.String(length=100), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("created_at", services.common.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chain", "tx_hash", "token", name="uq_payment_settlements_transfer"),
        sa.UniqueConstraint("payment_id"),
    )
    op.create_index(op.f("ix_payment_settlements_order_id"), "payment_settlements", ["order_id"], unique=False)
    with op.batch_alter_table("shipments") as batch:
        batch.add_column(sa.Column("stall_flagged_at", services.common.types.UTCDateTime(), nullable=True))
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("fence", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("rerun", sa.Boolean(), nullable=False, server_default=sa.text("false")))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("rerun")
        batch.drop_column("fence")
    with op.batch_alter_table("shipments") as batch:
        batch.drop_column("stall_flagged_at")
    op.drop_index(op.f("ix_payment_settlements_order_id"), table_name="payment_settlements")
    op.drop_table("payment_settlements")
