"""pitr estimated iops: the creator's estimate of a PITR domain's write rate

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 21:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('protection_domain') as batch:
        batch.add_column(sa.Column('pitr_estimated_iops', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('protection_domain') as batch:
        batch.drop_column('pitr_estimated_iops')
