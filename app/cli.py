"""`jetdr-msa`: serve the appliance, migrate its database, manage users."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from pathlib import Path
from typing import Any

import uvicorn

from app import __version__
from app.core.security import ensure_private_dir
from app.core.tls import ensure_self_signed, harden
from app.migrate import run_migrations
from app.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for name in ("host", "port", "data_dir"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return Settings(**overrides)


def server_config(app: Any, *, host: str, port: int, **options: Any) -> uvicorn.Config:
    """How the appliance is served (benchmarks serve their baseline the same way)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=5,
        **options,
    )
    config.load()
    if config.ssl is not None:
        harden(config.ssl)
    return config


def build_server(settings: Settings) -> uvicorn.Server:
    """The appliance's HTTPS server on these settings (the pytest plugin runs it in a thread)."""
    from app.main import create_app

    ensure_private_dir(settings.data_dir)
    _check_data(settings)
    ssl_options: dict[str, Any] = {}
    if settings.tls.enabled:
        if settings.tls.certfile and settings.tls.keyfile:
            certfile, keyfile = settings.tls.certfile, settings.tls.keyfile
        else:
            pair = ensure_self_signed(settings.data_dir / "tls", settings.hostname)
            certfile, keyfile = pair.certfile, pair.keyfile
        ssl_options = {"ssl_certfile": str(certfile), "ssl_keyfile": str(keyfile)}
    config = server_config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.access_log,
        **ssl_options,
    )
    return uvicorn.Server(config)


def serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if settings.log_level != "debug":
        # The Azure SDK logs every HTTP request and response at INFO: dozens of lines per
        # replication step, and CPU the engine needs. Its warnings and errors still show.
        logging.getLogger("azure").setLevel(logging.WARNING)
    build_server(settings).run()
    return 0


def _check_data(settings: Settings) -> None:
    from app.core.integrity import check_before_start

    key = settings.secret_key.get_secret_value().encode() if settings.secret_key else None
    check_before_start(settings.database_url, settings.data_dir, key)


def migrate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    ensure_private_dir(settings.data_dir)
    _check_data(settings)
    run_migrations(settings.database_url)
    print("database at head")  # noqa: T201
    return 0


async def _create_user(settings: Settings, username: str, role: str, password: str) -> str:
    from app.container import build_container
    from app.core.principal import Principal, Role
    from app.domain.users.schemas import UserCreate
    from app.domain.users.service import UserService

    container = build_container(settings)
    try:
        await asyncio.to_thread(run_migrations, settings.database_url)
        system = Principal(user_id="system", username="system", role=Role.ADMIN)
        spec = UserCreate.model_validate({"username": username, "role": role, "password": password})
        async with container.platform.sessionmaker() as session:
            user = await UserService(session, container.platform).create(spec, system)
            return user.id
    finally:
        await container.platform.engine.dispose()


def create_user(args: argparse.Namespace) -> int:
    settings = _settings(args)
    password = args.password or getpass.getpass(f"password for {args.username}: ")
    user_id = asyncio.run(_create_user(settings, args.username, args.role, password))
    print(f"created {args.username} ({args.role}) as {user_id}")  # noqa: T201
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jetdr-msa", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve_parser = commands.add_parser("serve", help="run the appliance over HTTPS")
    serve_parser.add_argument("--host")
    serve_parser.add_argument("--port", type=int)
    serve_parser.add_argument("--data-dir", type=Path)
    serve_parser.set_defaults(handler=serve)

    migrate_parser = commands.add_parser("migrate", help="upgrade the database to head")
    migrate_parser.add_argument("--data-dir", type=Path)
    migrate_parser.set_defaults(handler=migrate)

    user_parser = commands.add_parser("create-user", help="add an appliance user")
    user_parser.add_argument("username")
    user_parser.add_argument("--role", choices=["admin", "operator", "viewer"], default="viewer")
    user_parser.add_argument("--password", help="prompted for when omitted")
    user_parser.add_argument("--data-dir", type=Path)
    user_parser.set_defaults(handler=create_user)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        print(f"jetdr-msa: {error}", file=sys.stderr)  # noqa: T201
        return 1


if __name__ == "__main__":
    sys.exit(main())
