"""seeded id generations

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'id_generation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('generation', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_id_generation')),
    )
    # A database seeded before generations existed used generation 0's ids already.
    op.execute('INSERT INTO id_generation (id, generation) VALUES (1, 0)')


def downgrade() -> None:
    op.drop_table('id_generation')
