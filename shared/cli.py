"""Operator commands: `python -m shared.cli <command> --help`."""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from shared import auth, config
from shared.bus.connection import connect
from shared.bus.parking import list_dead_letters, replay_dead_letters
from shared.service import Service, load


def _platform() -> list[Service]:
    return [load(name) for name in importlib.import_module("services").NAMES]


def _subscription(name: str):
    settings = config.Settings()
    subscription = load(name).subscription(settings.bus_retry_delays)
    if subscription is None:
        raise SystemExit(f"{name} consumes no events, so it has no dead letters")
    return settings, subscription


def migrate(service: Service, settings: config.Settings) -> None:
    """Schema and bus topology are both part of a deploy: declaring the service's queues here, before any
    service runs, means no event published in the first seconds of a release misses a consumer."""
    from shared import migrations
    from shared.worker import declare_topology

    migrations.upgrade(service, settings.database_url_for(service.name))
    with connect(settings) as connection:
        declare_topology(connection, _platform() if settings.embedded_bus else [service], settings.bus_retry_delays)


def cmd_migrate(args) -> None:
    service = load(args.service)
    migrate(service, config.Settings())
    print(f"{service.name}: database migrated to head, bus topology declared")


def cmd_makemigration(args) -> None:
    from shared import migrations

    service = load(args.service)
    migrations.new_revision(service, config.Settings().database_url_for(service.name), args.message)


def cmd_worker(args) -> None:
    from shared import worker

    worker.main(load(args.service), _platform())


def cmd_deadletters(args) -> None:
    settings, subscription = _subscription(args.service)
    with connect(settings) as connection:
        if args.action == "list":
            letters = list_dead_letters(connection, subscription)
        else:
            letters = replay_dead_letters(connection, subscription, set(args.id) if args.id else None)
    for letter in letters:
        print(json.dumps(letter.__dict__, ensure_ascii=False))
    verb = "dead-lettered" if args.action == "list" else "replayed"
    print(f"{len(letters)} message(s) {verb} in {subscription.dead_letters}", file=sys.stderr)


def cmd_token(args) -> None:
    print(auth.mint(
        config.Settings(),
        subject=args.subject,
        organization_id=args.org,
        roles=args.roles.split(","),
        sites=args.sites.split(","),
        machine=args.machine,
    ))


def cmd_config(_args) -> None:
    print(config.settings_table())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    for name, fn, text in (
        ("migrate", cmd_migrate, "apply the service's migrations up to head"),
        ("worker", cmd_worker, "run the service's worker: consumer, outbox relay, jobs"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("service")
        sub.set_defaults(fn=fn)

    sub = commands.add_parser("makemigration", help="autogenerate a migration from the models")
    sub.add_argument("service")
    sub.add_argument("-m", "--message", required=True)
    sub.set_defaults(fn=cmd_makemigration)

    sub = commands.add_parser("deadletters", help="list or replay a consumer's dead-lettered messages")
    sub.add_argument("action", choices=["list", "replay"])
    sub.add_argument("service")
    sub.add_argument("--id", action="append", help="replay only this message id (repeatable)")
    sub.set_defaults(fn=cmd_deadletters)

    sub = commands.add_parser("token", help="mint a bearer token signed with AUTH_JWT_SECRET")
    sub.add_argument("--org", required=True, help="organization id")
    sub.add_argument("--subject", default="local-user", help="user id, or the machine's name")
    sub.add_argument("--roles", default="cs_specialist", help="comma-separated roles")
    sub.add_argument("--sites", default=auth.ALL_SITES, help="comma-separated site ids, or *")
    sub.add_argument("--machine", action="store_true", help="a machine credential, for integrations")
    sub.set_defaults(fn=cmd_token)

    sub = commands.add_parser("config", help="print the configuration table")
    sub.set_defaults(fn=cmd_config)

    args = parser.parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    main()
