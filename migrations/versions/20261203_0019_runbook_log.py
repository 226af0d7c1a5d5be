"""runbook log: how a recovery's runbook groups and scripts ran, for its report

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 21:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('recovery_operation') as batch:
        batch.add_column(sa.Column('runbook_log', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('recovery_operation') as batch:
        batch.drop_column('runbook_log')
