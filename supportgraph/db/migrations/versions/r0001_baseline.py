"""Baseline: the schema of the last release before Alembic (what ``create_all`` made then).

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Move the schema one revision up."""
    op.create_table(
        "accessrecord",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("principal_id", sa.String(length=64), nullable=False),
        sa.Column("principal_kind", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=True),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_accessrecord_created_at"), "accessrecord", ["created_at"], unique=False
    )
    op.create_index(op.f("ix_accessrecord_ticket_id"), "accessrecord", ["ticket_id"], unique=False)
    op.create_table(
        "apikey",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("principal_id", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("development", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_apikey_principal_id"), "apikey", ["principal_id"], unique=False)
    op.create_table(
        "demoactionlog",
        sa.Column("action_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("action_id"),
    )
    op.create_index(
        op.f("ix_demoactionlog_customer_id"), "demoactionlog", ["customer_id"], unique=False
    )
    op.create_table(
        "democustomer",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("phone", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_democustomer_email"), "democustomer", ["email"], unique=False)
    op.create_table(
        "demoemail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("to_email", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("action_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("action_id"),
    )
    op.create_index(op.f("ix_demoemail_customer_id"), "demoemail", ["customer_id"], unique=False)
    op.create_table(
        "idempotentrequest",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("action_id", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id", "key", name="uq_idempotent_request_key"),
    )
    op.create_table(
        "intentmodelversion",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("parent_version", sa.String(length=64), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("n_feedback", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_index(
        op.f("ix_intentmodelversion_status"), "intentmodelversion", ["status"], unique=False
    )
    op.create_table(
        "supportagent",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_supportagent_active"), "supportagent", ["active"], unique=False)
    op.create_table(
        "supportticket",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "OPEN",
                "AWAITING_CUSTOMER",
                "ESCALATED",
                "ASSIGNED",
                "RESOLVED",
                name="ticketstatus",
            ),
            nullable=False,
        ),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("primary_intent", sa.String(length=64), nullable=True),
        sa.Column("resolved_by", sa.String(length=16), nullable=True),
        sa.Column("escalation_reason", sa.String(), nullable=True),
        sa.Column("assigned_agent_id", sa.String(length=64), nullable=True),
        sa.Column("handoff_summary", sa.JSON(), nullable=True),
        sa.Column("queue_sentiment", sa.Float(), nullable=True),
        sa.Column("queue_order_value_cents", sa.Integer(), nullable=True),
        sa.Column("queue_rule_id", sa.String(length=64), nullable=True),
        sa.Column("ab_variant", sa.String(length=32), nullable=True),
        sa.Column("csat_score", sa.Integer(), nullable=True),
        sa.Column("turn_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_supportticket_assigned_agent_id"),
        "supportticket",
        ["assigned_agent_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_supportticket_created_at"), "supportticket", ["created_at"], unique=False
    )
    op.create_index(
        op.f("ix_supportticket_customer_id"), "supportticket", ["customer_id"], unique=False
    )
    op.create_index(
        op.f("ix_supportticket_primary_intent"), "supportticket", ["primary_intent"], unique=False
    )
    op.create_index(op.f("ix_supportticket_status"), "supportticket", ["status"], unique=False)
    op.create_table(
        "actionexecution",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(), nullable=True),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=False),
        sa.Column("arguments_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "PROPOSED",
                "PENDING",
                "EXECUTED",
                "FAILED",
                "DENIED",
                "DECLINED",
                name="actionstatus",
            ),
            nullable=False,
        ),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("policy_rule", sa.String(length=64), nullable=False),
        sa.Column("policy_allowed", sa.Boolean(), nullable=False),
        sa.Column("policy_reason", sa.String(), nullable=False),
        sa.Column("requires_human", sa.Boolean(), nullable=False),
        sa.Column("confirmed_by_customer", sa.Boolean(), nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("executed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["supportticket.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key", name="uq_action_idempotency_key"),
    )
    op.create_index(op.f("ix_actionexecution_action"), "actionexecution", ["action"], unique=False)
    op.create_index(
        op.f("ix_actionexecution_customer_id"), "actionexecution", ["customer_id"], unique=False
    )
    op.create_index(op.f("ix_actionexecution_status"), "actionexecution", ["status"], unique=False)
    op.create_index(
        op.f("ix_actionexecution_ticket_id"), "actionexecution", ["ticket_id"], unique=False
    )
    op.create_table(
        "customermessage",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("turn", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.String(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("sentiment", sa.Float(), nullable=True),
        sa.Column("response_latency_ms", sa.Float(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["supportticket.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_customermessage_created_at"), "customermessage", ["created_at"], unique=False
    )
    op.create_index(
        op.f("ix_customermessage_ticket_id"), "customermessage", ["ticket_id"], unique=False
    )
    op.create_table(
        "demoorder",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("total_cents", sa.Integer(), nullable=False),
        sa.Column("refunded_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("shipping_method", sa.String(), nullable=False),
        sa.Column("shipping_address", sa.String(), nullable=False),
        sa.Column("tracking_number", sa.String(), nullable=True),
        sa.Column("note", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("estimated_delivery", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["democustomer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_demoorder_customer_id"), "demoorder", ["customer_id"], unique=False)
    op.create_index(op.f("ix_demoorder_status"), "demoorder", ["status"], unique=False)
    op.create_table(
        "resolutionfeedback",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("message_text", sa.String(), nullable=True),
        sa.Column("predicted_intent", sa.String(length=64), nullable=True),
        sa.Column("correct_intent", sa.String(length=64), nullable=False),
        sa.Column("corrected_answer", sa.String(), nullable=True),
        sa.Column("correction_type", sa.String(length=32), nullable=False),
        sa.Column("used_for_training", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["supportticket.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_resolutionfeedback_ticket_id"), "resolutionfeedback", ["ticket_id"], unique=False
    )
    op.create_table(
        "demoorderitem",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_cents", sa.Integer(), nullable=False),
        sa.Column("final_sale", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["demoorder.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_demoorderitem_order_id"), "demoorderitem", ["order_id"], unique=False)
    op.create_table(
        "demopayment",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("action_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["demoorder.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("action_id"),
    )
    op.create_index(op.f("ix_demopayment_created_at"), "demopayment", ["created_at"], unique=False)
    op.create_index(
        op.f("ix_demopayment_customer_id"), "demopayment", ["customer_id"], unique=False
    )
    op.create_index(op.f("ix_demopayment_order_id"), "demopayment", ["order_id"], unique=False)
    op.create_table(
        "escalationdecision",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=True),
        sa.Column("escalate", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["customermessage.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["supportticket.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_escalationdecision_ticket_id"), "escalationdecision", ["ticket_id"], unique=False
    )
    op.create_table(
        "intentclassification",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=False),
        sa.Column("sub_intent", sa.String(length=64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("margin", sa.Float(), nullable=True),
        sa.Column("classifier_used", sa.String(length=16), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=True),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["customermessage.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["supportticket.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_intentclassification_intent"), "intentclassification", ["intent"], unique=False
    )
    op.create_index(
        op.f("ix_intentclassification_message_id"),
        "intentclassification",
        ["message_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_intentclassification_ticket_id"),
        "intentclassification",
        ["ticket_id"],
        unique=False,
    )
    op.create_table(
        "retrievalcontext",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("query", sa.String(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("top_score", sa.Float(), nullable=False),
        sa.Column("quality", sa.Float(), nullable=False),
        sa.Column("context_tokens", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["customermessage.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["supportticket.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_retrievalcontext_message_id"), "retrievalcontext", ["message_id"], unique=False
    )
    op.create_index(
        op.f("ix_retrievalcontext_ticket_id"), "retrievalcontext", ["ticket_id"], unique=False
    )


def downgrade() -> None:
    """Move the schema one revision down."""
    op.drop_index(op.f("ix_retrievalcontext_ticket_id"), table_name="retrievalcontext")
    op.drop_index(op.f("ix_retrievalcontext_message_id"), table_name="retrievalcontext")
    op.drop_table("retrievalcontext")
    op.drop_index(op.f("ix_intentclassification_ticket_id"), table_name="intentclassification")
    op.drop_index(op.f("ix_intentclassification_message_id"), table_name="intentclassification")
    op.drop_index(op.f("ix_intentclassification_intent"), table_name="intentclassification")
    op.drop_table("intentclassification")
    op.drop_index(op.f("ix_escalationdecision_ticket_id"), table_name="escalationdecision")
    op.drop_table("escalationdecision")
    op.drop_index(op.f("ix_demopayment_order_id"), table_name="demopayment")
    op.drop_index(op.f("ix_demopayment_customer_id"), table_name="demopayment")
    op.drop_index(op.f("ix_demopayment_created_at"), table_name="demopayment")
    op.drop_table("demopayment")
    op.drop_index(op.f("ix_demoorderitem_order_id"), table_name="demoorderitem")
    op.drop_table("demoorderitem")
    op.drop_index(op.f("ix_resolutionfeedback_ticket_id"), table_name="resolutionfeedback")
    op.drop_table("resolutionfeedback")
    op.drop_index(op.f("ix_demoorder_status"), table_name="demoorder")
    op.drop_index(op.f("ix_demoorder_customer_id"), table_name="demoorder")
    op.drop_table("demoorder")
    op.drop_index(op.f("ix_customermessage_ticket_id"), table_name="customermessage")
    op.drop_index(op.f("ix_customermessage_created_at"), table_name="customermessage")
    op.drop_table("customermessage")
    op.drop_index(op.f("ix_actionexecution_ticket_id"), table_name="actionexecution")
    op.drop_index(op.f("ix_actionexecution_status"), table_name="actionexecution")
    op.drop_index(op.f("ix_actionexecution_customer_id"), table_name="actionexecution")
    op.drop_index(op.f("ix_actionexecution_action"), table_name="actionexecution")
    op.drop_table("actionexecution")
    op.drop_index(op.f("ix_supportticket_status"), table_name="supportticket")
    op.drop_index(op.f("ix_supportticket_primary_intent"), table_name="supportticket")
    op.drop_index(op.f("ix_supportticket_customer_id"), table_name="supportticket")
    op.drop_index(op.f("ix_supportticket_created_at"), table_name="supportticket")
    op.drop_index(op.f("ix_supportticket_assigned_agent_id"), table_name="supportticket")
    op.drop_table("supportticket")
    op.drop_index(op.f("ix_supportagent_active"), table_name="supportagent")
    op.drop_table("supportagent")
    op.drop_index(op.f("ix_intentmodelversion_status"), table_name="intentmodelversion")
    op.drop_table("intentmodelversion")
    op.drop_table("idempotentrequest")
    op.drop_index(op.f("ix_demoemail_customer_id"), table_name="demoemail")
    op.drop_table("demoemail")
    op.drop_index(op.f("ix_democustomer_email"), table_name="democustomer")
    op.drop_table("democustomer")
    op.drop_index(op.f("ix_demoactionlog_customer_id"), table_name="demoactionlog")
    op.drop_table("demoactionlog")
    op.drop_index(op.f("ix_apikey_principal_id"), table_name="apikey")
    op.drop_table("apikey")
    op.drop_index(op.f("ix_accessrecord_ticket_id"), table_name="accessrecord")
    op.drop_index(op.f("ix_accessrecord_created_at"), table_name="accessrecord")
    op.drop_table("accessrecord")
    bind = op.get_bind()
    sa.Enum(name="actionstatus").drop(bind, checkfirst=True)  # PostgreSQL keeps enum types
    sa.Enum(name="ticketstatus").drop(bind, checkfirst=True)
