"""idempotency keys by user, with the process answering a pending one

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 12:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op



revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Records were keyed by a hash of the credential header: none can be replayed by user, and
    # a pending one has no owner to take it over from.
    op.execute('DELETE FROM idempotency_record')
    with op.batch_alter_table('idempotency_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sa.String(length=160), nullable=True))
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('idempotency_record', schema=None) as batch_op:
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('owner')
