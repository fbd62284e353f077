"""customer channels: outbox, inbound mail, account changes, help center, events

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import services.common.types
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table("account_audit",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("customer_id", sa.String(length=64), nullable=False),
    sa.Column("change_id", sa.String(length=40), nullable=False),
    sa.Column("field", sa.String(length=64), nullable=False),
    sa.Column("old_value", sa.JSON(), nullable=True),
    sa.Column("new_value", sa.JSON(), nullable=True),
    sa.Column("requested_by", sa.String(length=64), nullable=False),
    sa.Column("requested_at", services.common.types.UTCDateTime(), nullable=False),
    sa.Column("confirmed_at", services.common.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index("ix_account_audit_change_id", "account_audit", ["change_id"], unique=False)
    op.create_index("ix_account_audit_customer_id", "account_audit", ["customer_id"], unique=False)

    op.create_table("customers",
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("email", sa.String(length=254), nullable=True),
    sa.Column("phone", sa.String(length=32), nullable=True),
    sa.Column("default_address", sa.JSON(), nullable=True),
    sa.Column("lang", sa.String(length=8), nullable=False),
    sa.Column("updated_at", services.common.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_table("events",
    sa.Column("id", sa.String(length=40), nullable=False),
    sa.Column("type", sa.String(length=64), nullable=False),
    sa.Column("order_id", sa.String(length=40), nullable=True),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.Column("created_at", services.common.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index("ix_events_order_id", "events", ["order_id"], unique=False)

    op.create_table("outbox",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("event_id", sa.String(length=40), nullable=True),
    sa.Column("target", sa.String(length=500), nullable=True),
    sa.Column("ordering_key", sa.String(length=600), nullable=True),
    sa.Column("payload", sa.JSON(), nullable=False),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("lease", sa.Integer(), nullable=False),
    sa.Column("run_at", services.common.types.UTCDateTime(), nullable=False),
    sa.Column("locked_by", sa.String(length=64), nullable=True),
    sa.Column("locked_until", services.common.types.UTCDateTime(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("sent_at", services.common.types.UTCDateTime(), nullable=True),
    sa.Column("created_at", services.common.types.UTCDateTime(), nullable=False),
    sa.Column("updated_at", services.common.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index("ix_outbox_due", "outbox", ["state", "run_at"], unique=False)
    op.create_index("ix_outbox_event_id", "outbox", ["event_id"], unique=False)
    op.create_index("ix_outbox_ordering", "outbox", ["ordering_key", "id"], unique=False)

    op.create_table("account_changes",
    sa.Column("id", sa.String(length=40), nullable=False),
    sa.Column("customer_id", sa.String(length=64), nullable=False),
    sa.Column("ticket_id", sa.String(length=40), nullable=True),
    sa.Column("status", sa.String(length=32), nullable=False),
    sa.Column("requested_by", sa.String(length=64), nullable=False),
    sa.Column("changes", sa.JSON(), nullable=False),
    sa.Column("refused_reason", sa.Text(), nullable=True),
    sa.Column("expires_at", services.common.types.UTCDateTime(), nullable=False),
    sa.Column("confirmed_at", services.common.types.UTCDateTime(), nullable=True),
    sa.Column("applied_at", services.common.types.UTCDateTime(), nullable=True),
    sa.Column("created_at", services.common.types.UTCDateTime(), nullable=False),
    sa.Column("updated_at", services.common.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="SET NULL"),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index("ix_account_changes_customer_id", "account_changes", ["customer_id"], unique=False)

    op.create_table("article_resolutions",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("article_id", sa.String(length=64), nullable=False),
    sa.Column("ticket_id", sa.String(length=40), nullable=False),
    sa.Column("created_at", services.common.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("article_id", "ticket_id", name="uq_article_resolutions")
    )
    op.create_index("ix_article_resolutions_article_id", "article_resolutions", ["article_id"], unique=False)

    op.create_table("attachments",
    sa.Column("id", sa.String(length=40), nullable=False),
    sa.Column("ticket_id", sa.String(length=40), nullable=False),
    sa.Column("filename", sa.String(length=300), nullable=True),
    sa.Column("content_type", sa.String(length=100), nullable=False),
    sa.Column("size", sa.Integer(), nullable=False),
    sa.Column("sha256", sa.String(length=64), nullable=False),
    sa.Column("storage_key", sa.String(length=300), nullable=False),
    sa.Column("source", sa.String(length=16), nullable=False),
    sa.Column("created_at", services.common.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index("ix_attachments_ticket_id", "attachments", ["ticket_id"], unique=False)

    op.create_table("delivery_attempts",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("outbox_id", sa.Integer(), nullable=False),
    sa.Column("event_id", sa.String(length=40), nullable=True),
    sa.Column("target", sa.String(length=500), nullable=True),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("outcome", sa.String(length=16), nullable=False),
    sa.Column("status_code", sa.Integer(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("duration_ms", sa.Integer(), nullable=False),
    sa.Column("attempted_at", services.common.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index("ix_delivery_attempts_event_id", "delivery_attempts", ["event_id"], unique=False)
    op.create_index("ix_delivery_attempts_outbox_id", "delivery_attempts", ["outbox_id"], unique=False)

    op.create_table("mail_messages",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("message_id", sa.String(length=400), nullable=False),
    sa.Column("direction", sa.String(length=8), nullable=False),
    sa.Column("ticket_id", sa.String(length=40), nullable=True),
    sa.Column("from_address", sa.String(length=320), nullable=True),
    sa.Column("subject", sa.String(length=1000), nullable=True),
    sa.Column("outcome", sa.String(length=32), nullable=False),
    sa.Column("details", sa.JSON(), nullable=True),
    sa.Column("created_at", services.common.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="SET NULL"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("message_id")
    )
    op.create_index("ix_mail_messages_ticket_id", "mail_messages", ["ticket_id"], unique=False)

    op.create_table("account_change_links",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("change_id", sa.String(length=40), nullable=False),
    sa.Column("token_hash", sa.String(length=64), nullable=False),
    sa.Column("recipient", sa.String(length=254), nullable=False),
    sa.Column("used_at", services.common.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(["change_id"], ["account_changes.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("token_hash")
    )
    op.create_index("ix_account_change_links_change_id", "account_change_links", ["change_id"], unique=False)



def downgrade() -> None:
    op.drop_index("ix_account_change_links_change_id", table_name="account_change_links")
    op.drop_table("account_change_links")
    op.drop_index("ix_mail_messages_ticket_id", table_name="mail_messages")
    op.drop_table("mail_messages")
    op.drop_index("ix_delivery_attempts_outbox_id", table_name="delivery_attempts")
    op.drop_index("ix_delivery_attempts_event_id", table_name="delivery_attempts")
    op.drop_table("delivery_attempts")
    op.drop_index("ix_attachments_ticket_id", table_name="attachments")
    op.drop_table("attachments")
    op.drop_index("ix_article_resolutions_article_id", table_name="article_resolutions")
    op.drop_table("article_resolutions")
    op.drop_index("ix_account_changes_customer_id", table_name="account_changes")
    op.drop_table("account_changes")
    op.drop_index("ix_outbox_ordering", table_name="outbox")
    op.drop_index("ix_outbox_event_id", table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_events_order_id", table_name="events")
    op.drop_table("events")
    op.drop_table("customers")
    op.drop_index("ix_account_audit_customer_id", table_name="account_audit")
    op.drop_index("ix_account_audit_change_id", table_name="account_audit")
    op.drop_table("account_audit")
