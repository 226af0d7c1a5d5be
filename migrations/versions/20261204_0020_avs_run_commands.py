"""AVS run commands: named script executions, and the MSA's own VM, size, sshd and daemons

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 01:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('script_execution',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('cmdlet', sa.String(length=64), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('timeout_seconds', sa.Integer(), nullable=False),
    sa.Column('retention_days', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('task_id', sa.String(length=32), nullable=False),
    sa.Column('submitted_by', sa.String(length=128), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('information', sa.JSON(), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.Column('named_outputs', sa.JSON(), nullable=False),
    sa.Column('failure_reason', sa.String(length=2048), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_script_execution'))
    )
    with op.batch_alter_table('script_execution') as batch:
        batch.create_index(batch.f('ix_script_execution_state'), ['state'], unique=False)
    with op.batch_alter_table('appliance') as batch:
        batch.add_column(sa.Column('vm_moref', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('vm_name', sa.String(length=80), nullable=True))
        batch.add_column(sa.Column('cpu_count', sa.Integer(), nullable=False, server_default='4'))
        batch.add_column(sa.Column('memory_gb', sa.Integer(), nullable=False, server_default='8'))
        batch.add_column(
            sa.Column('sshd_enabled', sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column('daemon_restarts', sa.JSON(), nullable=False, server_default='{}')
        )


def downgrade() -> None:
    with op.batch_alter_table('appliance') as batch:
        for column in (
            'daemon_restarts', 'sshd_enabled', 'memory_gb', 'cpu_count', 'vm_name', 'vm_moref'
        ):
            batch.drop_column(column)
    op.drop_table('script_execution')
