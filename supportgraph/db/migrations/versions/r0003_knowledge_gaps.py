"""The questions the help centre could not answer.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Move the schema one revision up."""
    op.create_table(
        "knowledgegap",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=False),
        sa.Column("question", sa.String(), nullable=False),
        sa.Column("nearest_source_id", sa.String(length=200), nullable=True),
        sa.Column("nearest_score", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["customermessage.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["supportticket.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("created_at", "message_id", "ticket_id"):
        op.create_index(op.f(f"ix_knowledgegap_{column}"), "knowledgegap", [column], unique=False)


def downgrade() -> None:
    """Move the schema one revision down."""
    for column in ("created_at", "message_id", "ticket_id"):
        op.drop_index(op.f(f"ix_knowledgegap_{column}"), table_name="knowledgegap")
    op.drop_table("knowledgegap")
