"""``supportgraph keys``: create, list and revoke API keys; issue a signed token for testing."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from supportgraph.settings import get_settings

app = typer.Typer(help="API keys and signed tokens.", no_args_is_help=True)


def _engine():  # type: ignore[no-untyped-def]
    from supportgraph.db.engine import create_schema, make_engine

    engine = make_engine(get_settings().resolved_database_url)
    create_schema(engine)
    return engine


@app.command()
def create(
    principal: Annotated[
        str, typer.Argument(help="who the key speaks as: an agent id, or a name like web-backend")
    ],
    scope: Annotated[
        list[str],
        typer.Option(help="customer:act-as, agent, admin or reports; repeat for several"),
    ],
) -> None:
    """Create a key and print it: it is shown this once and stored only as a hash."""
    from supportgraph.auth.keys import create_key

    try:
        created = create_key(_engine(), principal_id=principal, scopes=scope)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scope") from exc
    typer.echo(f"key {created.row.id} for {principal} ({' '.join(created.row.scopes)}):", err=True)
    typer.echo(created.secret)


@app.command(name="list")
def list_() -> None:
    """Every key with its principal, scopes and state (never the key itself)."""
    from supportgraph.auth.keys import list_keys

    for row in list_keys(_engine()):
        typer.echo(
            json.dumps(
                {
                    "id": row.id,
                    "principal": row.principal_id,
                    "scopes": row.scopes,
                    "development": row.development,
                    "created_at": row.created_at.isoformat(),
                    "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
                }
            )
        )


@app.command()
def revoke(key_id: Annotated[str, typer.Argument(help="the key's id, from 'keys list'")]) -> None:
    """Revoke a key; servers refuse it within seconds."""
    from supportgraph.auth.keys import revoke_key

    try:
        row = revoke_key(_engine(), key_id)
    except LookupError as exc:
        raise typer.BadParameter(str(exc), param_hint="KEY_ID") from exc
    typer.echo(f"revoked {row.id} ({row.principal_id})")


@app.command()
def token(
    subject: Annotated[str, typer.Argument(help="a customer id, or an agent id with --scope")],
    ttl: Annotated[int, typer.Option(min=1, help="seconds until it expires")] = 3600,
    scope: Annotated[
        list[str] | None, typer.Option(help="staff scopes: agent, admin, reports")
    ] = None,
) -> None:
    """Sign a token with SUPPORTGRAPH_TOKEN_SECRET, as the company's backend would."""
    from supportgraph.auth.tokens import issue_token

    secrets = get_settings().token_secrets
    if not secrets:
        raise typer.BadParameter("set SUPPORTGRAPH_TOKEN_SECRET first", param_hint="environment")
    typer.echo(issue_token(secrets[0], subject, ttl_s=ttl, scopes=scope or ()))
