"""The state database's URL (CLOUDRUN_DATABASE_URL, `config set database_url`): SQLite or PostgreSQL, checked."""

from __future__ import annotations

from urllib.parse import urlsplit

from cloudrun.errors import InvalidInput

POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
EXAMPLES = "sqlite:////path/to/state.db or postgresql://user@host:5432/cloudrun"


def has_password(url: str) -> bool:
    """Return whether the URL carries a password (user:password@host)."""
    try:
        return urlsplit(url).password is not None
    except ValueError:
        return False


def database_url(value: object, where: str = "database_url") -> str:
    """Return the URL in SQLAlchemy's spelling (PostgreSQL through psycopg 3); raise InvalidInput for anything else."""
    text = str(value).strip()
    scheme = text.partition("://")[0].lower() if "://" in text else ""
    if scheme == "sqlite":
        if text in ("sqlite://", "sqlite:///", "sqlite:///:memory:"):
            raise InvalidInput(f"{where}: a SQLite URL needs a file path, e.g. sqlite:////path/to/state.db",
                               hint="cloudrun's state must outlive the process")  # fmt: skip
        return text
    if scheme in POSTGRES_SCHEMES:
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError as exc:
            raise InvalidInput(f"{where}: {exc}", hint=f"e.g. {EXAMPLES}") from None
        if not parts.path.strip("/") and "dbname=" not in parts.query:
            raise InvalidInput(f"{where}: the URL names no database", hint=f"e.g. {EXAMPLES}")
        return "postgresql+psycopg://" + text.partition("://")[2]
    raise InvalidInput(f"{where}: {scheme or 'text without a scheme'!r} is not a database cloudrun can use",
                       hint=f"use {EXAMPLES}")  # fmt: skip
