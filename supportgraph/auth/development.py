"""The embedded default's local key, and the refusal to serve a network without credentials."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from sqlalchemy import Engine

from supportgraph.auth import keys
from supportgraph.auth.principals import KEY_SCOPES
from supportgraph.settings import Settings

DEVELOPMENT_PRINCIPAL = "local-development"


def development_key_path(settings: Settings) -> Path:
    """Where the local development key is written."""
    return settings.data_dir / "dev-api-key"


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ensure_development_key(engine: Engine, settings: Settings) -> Path | None:
    """On a store with no key yet, create one with every scope and write it to the data dir.

    Returns:
        The key file when it holds a key that works (new or from an earlier start); None when
        keys were created by an operator, so none is made.

    """
    path = development_key_path(settings)
    if path.exists():
        presented = path.read_text().strip()
        row = keys.load_key(engine, keys.key_id_of(presented) or "")
        if row is not None and row.revoked_at is None and row.key_hash == keys.hash_key(presented):
            return path
    if keys.active_keys(engine):
        return None
    created = keys.create_key(
        engine, principal_id=DEVELOPMENT_PRINCIPAL, scopes=KEY_SCOPES, development=True
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(created.secret + "\n")
    return path


def network_refusal(engine: Engine, settings: Settings, host: str) -> str | None:
    """Why serving on ``host`` would be unsafe, or None.

    A non-loopback address needs credentials an operator configured (a key made with
    ``supportgraph keys create``, or a token secret), and no development key may be active:
    that key lies in a file, with every scope.
    """
    if is_loopback(host):
        return None
    active = keys.active_keys(engine)
    if any(row.development for row in active):
        return (
            f"refusing to serve {host}: the local development key is active; revoke it with "
            "'supportgraph keys revoke <id>' (see 'supportgraph keys list')"
        )
    if not any(not row.development for row in active) and not settings.token_secrets:
        return (
            f"refusing to serve {host} with no credentials configured: create a key with "
            "'supportgraph keys create NAME --scope ...' or set SUPPORTGRAPH_TOKEN_SECRET"
        )
    return None
