"""one active alarm per condition and entity

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 07:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Two writers could each raise the same alarm before: keep the earliest active one.
    op.execute(
        """
        UPDATE alarm SET cleared_at = raised_at
        WHERE cleared_at IS NULL AND EXISTS (
            SELECT 1 FROM alarm AS earlier
            WHERE earlier.type = alarm.type AND earlier.entity_id = alarm.entity_id
              AND earlier.cleared_at IS NULL
              AND (earlier.raised_at < alarm.raised_at
                   OR (earlier.raised_at = alarm.raised_at AND earlier.id < alarm.id))
        )
        """
    )
    op.execute(
        'CREATE UNIQUE INDEX uq_alarm_active ON alarm (type, entity_id) WHERE cleared_at IS NULL'
    )


def downgrade() -> None:
    op.drop_index('uq_alarm_active', table_name='alarm')
