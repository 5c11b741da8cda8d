"""Initial schema: meta, events, rejected, decisions, reviewer actions, appeals, statements,
API keys and the audit chain.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table("meta",
                    sa.Column("key", sa.String(64), primary_key=True),
                    sa.Column("value", sa.Text, nullable=False))
    op.bulk_insert(sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.Text)),
                   [{"key": "next_seq", "value": "1"},
                    {"key": "audit_head", "value": "0:" + "0" * 64}])
    op.create_table("events",
                    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
                    sa.Column("client_id", sa.String(256), nullable=True, unique=True),
                    sa.Column("type", sa.String(32), nullable=False),
                    sa.Column("ts", sa.Float, nullable=False),
                    sa.Column("body", sa.Text, nullable=False),
                    sa.Column("received_at", sa.Float, nullable=False))
    op.create_table("rejected",
                    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
                    sa.Column("client_id", sa.String(256), nullable=True),
                    sa.Column("reason", sa.Text, nullable=False),
                    sa.Column("raw", sa.Text, nullable=False),
                    sa.Column("received_at", sa.Float, nullable=False))
    op.create_table("decisions",
                    sa.Column("id", ID, primary_key=True, autoincrement=True),
                    sa.Column("line", sa.BigInteger, nullable=False),
                    sa.Column("ts", sa.Float, nullable=False),
                    sa.Column("account", sa.String(256), nullable=False),
                    sa.Column("action", sa.String(16), nullable=False),
                    sa.Column("score", sa.Float, nullable=False),
                    sa.Column("reasons", sa.Text, nullable=False),
                    sa.Column("rules_version", sa.String(80), nullable=False),
                    sa.Column("model_version", sa.String(80), nullable=False),
                    sa.Column("engine_version", sa.String(80), nullable=False),
                    sa.Column("source", sa.String(16), nullable=False),
                    sa.Column("decided_at", sa.Float, nullable=False))
    op.create_index("ix_decisions_account", "decisions", ["account"])
    op.create_index("ix_decisions_line", "decisions", ["line"])
    op.create_table("reviewer_actions",
                    sa.Column("id", ID, primary_key=True, autoincrement=True),
                    sa.Column("line", sa.BigInteger, nullable=False),
                    sa.Column("ts", sa.Float, nullable=False),
                    sa.Column("account", sa.String(256), nullable=False),
                    sa.Column("action", sa.String(16), nullable=False),
                    sa.Column("until", sa.Float, nullable=True),
                    sa.Column("note", sa.Text, nullable=True),
                    sa.Column("reviewer", sa.String(64), nullable=True),
                    sa.Column("acted_at", sa.Float, nullable=False))
    op.create_index("ix_reviewer_actions_account", "reviewer_actions", ["account"])
    op.create_table("appeals",
                    sa.Column("id", ID, primary_key=True, autoincrement=True),
                    sa.Column("line", sa.BigInteger, nullable=False),
                    sa.Column("ts", sa.Float, nullable=False),
                    sa.Column("account", sa.String(256), nullable=False),
                    sa.Column("outcome", sa.String(32), nullable=False),
                    sa.Column("note", sa.Text, nullable=True),
                    sa.Column("recorded_at", sa.Float, nullable=False))
    op.create_index("ix_appeals_account", "appeals", ["account"])
    op.create_table("statements",
                    sa.Column("id", ID, primary_key=True, autoincrement=True),
                    sa.Column("puid", sa.String(128), nullable=False, unique=True),
                    sa.Column("account", sa.String(256), nullable=False),
                    sa.Column("line", sa.BigInteger, nullable=False),
                    sa.Column("action", sa.String(16), nullable=False),
                    sa.Column("body", sa.Text, nullable=False),
                    sa.Column("created_at", sa.Float, nullable=False))
    op.create_index("ix_statements_account", "statements", ["account"])
    op.create_index("ix_statements_created", "statements", ["created_at"])
    op.create_table("api_keys",
                    sa.Column("id", sa.String(32), primary_key=True),
                    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
                    sa.Column("scope", sa.String(16), nullable=False),
                    sa.Column("created_at", sa.Float, nullable=False),
                    sa.Column("revoked_at", sa.Float, nullable=True))
    op.create_table("audit",
                    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
                    sa.Column("at", sa.Float, nullable=False),
                    sa.Column("kind", sa.String(32), nullable=False),
                    sa.Column("subject", sa.String(256), nullable=False),
                    sa.Column("body", sa.Text, nullable=False),
                    sa.Column("prev_hash", sa.String(64), nullable=False),
                    sa.Column("hash", sa.String(64), nullable=False))


def downgrade() -> None:
    for t in ("audit", "api_keys", "statements", "appeals", "reviewer_actions", "decisions",
              "rejected", "events", "meta"):
        op.drop_table(t)
