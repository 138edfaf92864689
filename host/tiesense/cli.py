"""The ``tiesense`` command: one sub-command per library verb."""
from __future__ import annotations

import sys

import click

from . import __version__


@click.group()
@click.version_option(__version__, prog_name="tiesense")
def main():
    """tiesense: field survey and sensing kit for innovation clusters."""


@main.command()
@click.option("--db", "db_path", default="tiesense.db", show_default=True, type=click.Path(dir_okay=False),
              help="SQLite file the host stores records in (created if missing).")
@click.option("--broker", default=None, metavar="mqtt://HOST:PORT",
              help="External MQTT broker (e.g. Mosquitto). Default: start an embedded broker on localhost.")
@click.option("--port", default=1883, show_default=True, help="Port of the embedded broker.")
@click.option("--shared-group", default=None, metavar="NAME",
              help="Join an MQTT 5 shared subscription group ($share/NAME/...) to split ingest across workers.")
def serve(db_path, broker, port, shared_group):
    """Run the host: ingest device records into SQLite and acknowledge them."""
    from .service import serve as run

    run(db_path=db_path, broker_url=broker, embedded_port=port, shared_group=shared_group)


@main.command()
@click.option("--kiosks", default=3, show_default=True, help="Number of simulated kiosks (one micropython process each).")
@click.option("--db", "db_path", default="tiesense-demo.db", show_default=True, type=click.Path(dir_okay=False),
              help="SQLite file the host stores records in.")
@click.option("--broker", default=None, metavar="mqtt://HOST:PORT", help="External MQTT broker. Default: embedded.")
@click.option("--every", default=2.0, show_default=True, help="Seconds between surveys at each kiosk.")
@click.option("--duration", default=None, type=float, help="Stop after this many seconds (default: run until Ctrl-C).")
def demo(kiosks, db_path, broker, every, duration):
    """Run broker, host and simulated kiosks (real firmware under MicroPython), counting records live."""
    from .demo import MissingTool, run_demo

    try:
        run_demo(kiosks=kiosks, db_path=db_path, broker_url=broker, every=every, duration=duration)
    except MissingTool as e:
        raise click.ClickException(str(e))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
