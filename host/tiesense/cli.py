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
@click.option("--client-id", default=None, metavar="ID",
              help="MQTT client id of the ingest. Default: derived from this machine and the database "
                   "(printed when ready), so each host keeps its own broker session.")
def serve(db_path, broker, port, shared_group, client_id):
    """Run the host: ingest device records into SQLite and acknowledge them."""
    from .service import serve as run

    run(db_path=db_path, broker_url=broker, embedded_port=port, shared_group=shared_group, client_id=client_id)


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


@main.command()
@click.argument("device")
@click.argument("cmd", type=click.Choice(["sync", "status", "reboot", "identify"]))
@click.option("--broker", default="mqtt://127.0.0.1:1883", show_default=True, metavar="mqtt://HOST:PORT",
              help="The broker the device and host use.")
def command(device, cmd, broker):
    """Send CMD to DEVICE: sync (send pending records now), status, reboot, identify."""
    from .commands import CommandError, send_command

    try:
        cid = send_command(broker, device, cmd)
    except (CommandError, ValueError) as e:
        raise click.ClickException(str(e))
    click.echo(f"sent {cmd} to {device} (command id {cid})")


def _open_store(db_path):
    """The Store of ``db_path``; a file this tiesense cannot open is a one-line error."""
    from .store import SchemaTooNew, Store

    try:
        return Store(db_path)
    except SchemaTooNew as e:
        raise click.ClickException(str(e))


@main.group()
def ties():
    """Tie-strength estimates between organisations (table tie_estimates)."""


@ties.command("recompute")
@click.option("--db", "db_path", default="tiesense.db", show_default=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--mode", type=click.Choice(["mean", "min", "max", "confirmed"]), default="mean", show_default=True,
              help="How the two sides' reports of a tie are reconciled.")
@click.option("--replicates", default=500, show_default=True, help="Bootstrap replicates over respondents.")
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap (same seed, same intervals).")
def ties_recompute(db_path, mode, replicates, seed):
    """Recompute the survey-composite estimate of every dyad and the node and cluster measures, with bootstrap intervals."""
    from .estimates import recompute, recompute_measures

    with _open_store(db_path) as store:
        n = recompute(store, mode=mode, n_replicates=replicates, seed=seed)
        click.echo(f"{n} dyads estimated (composite, {mode}, {replicates} bootstrap replicates) in {db_path}")
        orgs, _ = recompute_measures(store, mode=mode, n_replicates=replicates, seed=seed)
        click.echo(f"{orgs} organisations measured (org_measures, cluster_measures)")


@ties.command("show")
@click.option("--db", "db_path", default="tiesense.db", show_default=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--estimator", type=click.Choice(["composite", "decayed_rate"]), default=None,
              help="Only this estimator (default: all).")
@click.option("--limit", default=20, show_default=True, help="Rows to print, strongest first.")
def ties_show(db_path, estimator, limit):
    """Print the strongest estimated ties with their intervals."""
    from .estimates import estimates

    with _open_store(db_path) as store:
        rows = estimates(store, estimator)
    if not rows:
        raise click.ClickException(f"no tie estimates in {db_path}: interviews (form fi_partner) arrive through "
                                   "ingest; run 'tiesense ties recompute' for the composite")
    click.echo(f"{'u':>7} {'v':>7}  {'estimator':<13} {'value':>9}  {'interval':<21} {'obs':>4}")
    for r in rows[:limit]:
        click.echo(f"{r['u']:>7} {r['v']:>7}  {r['estimator']:<13} {r['value']:>9.4f}  "
                   f"[{r['low']:.4f}, {r['high']:.4f}]{'':<3} {r['observations']:>4}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
