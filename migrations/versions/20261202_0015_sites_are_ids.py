"""sites are ids: domains and recovery reports name sites by id, not by name

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 13:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SITE_COLUMNS = {
    'protection_domain': ('primary_site', 'recovery_site', 'owner_site'),
    'recovery_operation': ('source_site', 'target_site'),
}


def upgrade() -> None:
    with op.batch_alter_table('protection_domain', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('site_names', sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
    with op.batch_alter_table('appliance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('site_name_setting', sa.String(length=128), nullable=True))
    bind = op.get_bind()
    # The names this appliance knows: its own site's and its peers' (by the peer's own id).
    ids_by_name = {}
    local = bind.execute(sa.text('SELECT local_site_id FROM appliance WHERE id = 1')).scalar()
    for site_id, name, role, peer_site_id in bind.execute(
        sa.text('SELECT id, name, role, peer_site_id FROM site')
    ):
        if role == 'local' and site_id == local:
            ids_by_name[name] = site_id
        elif role == 'remote' and peer_site_id:
            ids_by_name[name] = peer_site_id
    for table, columns in SITE_COLUMNS.items():
        for column in columns:
            for name, site_id in ids_by_name.items():
                bind.execute(
                    sa.text(f'UPDATE {table} SET {column} = :site_id WHERE {column} = :name'),
                    {'site_id': site_id, 'name': name},
                )


def downgrade() -> None:
    with op.batch_alter_table('appliance', schema=None) as batch_op:
        batch_op.drop_column('site_name_setting')
    with op.batch_alter_table('protection_domain', schema=None) as batch_op:
        batch_op.drop_column('site_names')
