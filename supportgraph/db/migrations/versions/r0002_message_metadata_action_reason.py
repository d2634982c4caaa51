"""The metadata a client sends with a message; the customer's reason kept with an action.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Move the schema one revision up."""
    with op.batch_alter_table("customermessage") as batch:
        batch.add_column(sa.Column("client_metadata", sa.JSON(), nullable=True))
    with op.batch_alter_table("actionexecution") as batch:
        batch.add_column(sa.Column("customer_reason", sa.String(length=500), nullable=True))


def downgrade() -> None:
    """Move the schema one revision down."""
    with op.batch_alter_table("actionexecution") as batch:
        batch.drop_column("customer_reason")
    with op.batch_alter_table("customermessage") as batch:
        batch.drop_column("client_metadata")
