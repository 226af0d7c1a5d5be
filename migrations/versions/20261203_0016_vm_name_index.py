"""vm name index: a page of VMs in name order walks an index instead of sorting them all

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 05:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op


revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_vm_name_id', 'vm', ['name', 'id'])


def downgrade() -> None:
    op.drop_index('ix_vm_name_id', table_name='vm')
