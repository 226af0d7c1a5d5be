"""subscription expiry: what the subscription server reports, for the grace period and bitmap mode

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 21:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('appliance') as batch:
        batch.add_column(sa.Column('subscription_expires_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('appliance') as batch:
        batch.drop_column('subscription_expires_at')
