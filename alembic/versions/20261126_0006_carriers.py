"""carriers of the shop's own market: one identity per scan instant

Tracking events without a sender id are deduplicated by status and time. Until now the time in that key kept the
sender's offset ("08:00+08:00" and "00:00Z" were two scans); it is now the UTC instant. This rewrites the stored
keys to the instant, and removes the rows that were the same scan stored twice (the earliest stored is kept).
No schema change.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 00:40:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

import services.common.types  # noqa: F401
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def instant_key(key: str) -> str:
    """'at:<status>@<iso time>' with the time as its UTC instant; any other key unchanged."""
    status, sep, stamp = key[3:].partition("@")
    if not key.startswith("at:") or not sep:
        return key
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return key
    if moment.tzinfo is None:
        return key
    return f"at:{status}@{moment.astimezone(UTC).isoformat()}"


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, carrier, tracking_number, dedup_key FROM tracking_events WHERE dedup_key LIKE 'at:%' "
        "ORDER BY id")).all()
    winners: dict[tuple[str, str, str], int] = {}
    losers: list[int] = []
    renames: list[dict[str, object]] = []
    for row_id, carrier, number, key in rows:
        new_key = instant_key(key)
        identity = (carrier, number, new_key)
        if identity in winners:
            losers.append(row_id)
            continue
        winners[identity] = row_id
        if new_key != key:
            renames.append({"id": row_id, "key": new_key})
    for start in range(0, len(losers), 500):
        bind.execute(sa.text("DELETE FROM tracking_events WHERE id IN :ids").bindparams(
            sa.bindparam("ids", expanding=True)), {"ids": losers[start:start + 500]})
    if renames:
        bind.execute(sa.text("UPDATE tracking_events SET dedup_key = :key WHERE id = :id"), renames)


def downgrade() -> None:
    # The UTC keys stay valid identities; the duplicates removed are not restored.
    pass
