"""The ``tiesense`` command: one sub-command per library verb."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from . import __version__


@click.group()
@click.version_option(__version__, prog_name="tiesense")
def main():
    """tiesense: field survey and sensing kit for innovation clusters."""


def broker_login_options(f):
    """The options that say how to log in to a broker: TLS files and where the password is.

    The password is never an option's value (the process list shows those to
    every user of the machine): it comes from a file or TIESENSE_MQTT_PASSWORD.
    """
    f = click.option("--key-file", default=None, type=click.Path(exists=True, dir_okay=False),
                     help="Client private key for --cert-file (or TIESENSE_MQTT_KEY).")(f)
    f = click.option("--cert-file", default=None, type=click.Path(exists=True, dir_okay=False),
                     help="Client certificate, for a broker that requires one (or TIESENSE_MQTT_CERT).")(f)
    f = click.option("--ca-file", default=None, type=click.Path(exists=True, dir_okay=False),
                     help="CA that signed the broker's certificate, for mqtts:// (or TIESENSE_MQTT_CA; "
                          "default: the system's trust store).")(f)
    f = click.option("--password-file", default=None, type=click.Path(exists=True, dir_okay=False),
                     help="File holding the broker password of the URL's user (or TIESENSE_MQTT_PASSWORD, "
                          "or TIESENSE_MQTT_PASSWORD_FILE).")(f)
    return f


def broker_address(url, password_file, ca_file, cert_file, key_file):
    """A BrokerAddress from the command line and the environment (ValueError saying what is wrong)."""
    if url is None:
        if any((password_file, ca_file, cert_file, key_file)):
            raise click.UsageError("--password-file, --ca-file, --cert-file and --key-file go with --broker")
        return None
    from .broker_address import BrokerAddress

    return BrokerAddress.parse(url, password_file=password_file, ca_file=ca_file, cert_file=cert_file,
                               key_file=key_file)


@main.command()
@click.option("--db", "db_path", default="tiesense.db", show_default=True, type=click.Path(dir_okay=False),
              help="SQLite file the host stores records in (created if missing).")
@click.option("--broker", default=None, metavar="mqtt[s]://[USER@]HOST:PORT",
              help="External MQTT broker (e.g. Mosquitto), with TLS for mqtts://. Default: start an embedded "
                   "broker on localhost.")
@broker_login_options
@click.option("--port", default=1883, show_default=True, help="Port of the embedded broker.")
@click.option("--shared-group", default=None, metavar="NAME",
              help="Join an MQTT 5 shared subscription group ($share/NAME/...) to split ingest across workers.")
@click.option("--client-id", default=None, metavar="ID",
              help="MQTT client id of the ingest. Default: derived from this machine and the database "
                   "(printed when ready), so each host keeps its own broker session.")
@click.option("--require-signed", is_flag=True,
              help="Quarantine every unsigned record, also from devices the host has no key for (once every device "
                   "runs signing firmware; see docs/protocol.md, Version 2).")
@click.option("--api", "api", default=None, is_flag=False, flag_value="127.0.0.1:8080", metavar="HOST:PORT",
              help="Also serve the web API (and pages) at HOST:PORT; --api alone means 127.0.0.1:8080. "
                   "Default: no web server.")
@click.option("--api-only", is_flag=True,
              help="Serve only the web API against the database, without broker or ingest (another "
                   "process ingests); at --api's address, else 127.0.0.1:8080.")
@click.option("--k", "k", default=None, type=click.IntRange(min=1),
              help="k-anonymity of viewers: cells from fewer respondents are suppressed (default 5).")
def serve(db_path, broker, password_file, ca_file, cert_file, key_file, port, shared_group, client_id,
          require_signed, api, api_only, k):
    """Run the host: ingest device records into SQLite and acknowledge them; with --api, the web API too."""
    from .service import serve as run

    api_address = None
    if api is not None or api_only:
        try:
            api_address = parse_address(api or "127.0.0.1:8080")
        except ValueError as e:
            raise click.UsageError(str(e))
    if api_only:
        if broker or shared_group or client_id:
            raise click.UsageError("--api-only runs no ingest: --broker, --shared-group and --client-id do not apply")
        from .service import serve_api

        serve_api(db_path, api_address, k=k)
        return
    try:
        address = broker_address(broker, password_file, ca_file, cert_file, key_file)
    except ValueError as e:  # the same one-line form as every other reason serve cannot start
        click.echo(f"tiesense: {e}", err=True)
        sys.exit(1)
    run(db_path=db_path, broker_url=address, embedded_port=port, shared_group=shared_group, client_id=client_id,
        require_signed=require_signed, api=api_address, k=k)


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6) as ``(host, port)``; ValueError saying what is wrong.

    Examples
    --------
    >>> parse_address("0.0.0.0:80"), parse_address("[::1]:8080")
    (('0.0.0.0', 80), ('::1', 8080))
    """
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"the API address {text!r} is not HOST:PORT (e.g. 127.0.0.1:8080)")
    return host.strip("[]"), int(port)


@main.command()
@click.option("--kiosks", default=3, show_default=True, help="Number of simulated kiosks (one micropython process each).")
@click.option("--db", "db_path", default="tiesense-demo.db", show_default=True, type=click.Path(dir_okay=False),
              help="SQLite file the host stores records in.")
@click.option("--broker", default=None, metavar="mqtt://HOST:PORT", help="External MQTT broker. Default: embedded.")
@click.option("--every", default=2.0, show_default=True, help="Seconds between surveys at each kiosk.")
@click.option("--duration", default=None, type=float, help="Stop after this many seconds (default: run until Ctrl-C).")
@click.option("--web-port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Serve the dashboards on 127.0.0.1 at this port (a free one if it is taken).")
@click.option("--no-web", is_flag=True, help="No dashboards, no interview wave: the kiosks and the host only.")
def demo(kiosks, db_path, broker, every, duration, web_port, no_web):
    """Run broker, host and simulated kiosks (real firmware under MicroPython), counting records live."""
    from .demo import MissingTool, run_demo

    try:
        run_demo(kiosks=kiosks, db_path=db_path, broker_url=broker, every=every, duration=duration,
                 web_port=None if no_web else web_port)
    except MissingTool as e:
        raise click.ClickException(str(e))


@main.command()
@click.argument("device")
@click.argument("cmd", type=click.Choice(["sync", "status", "reboot", "identify"]))
@click.option("--db", "db_path", default="tiesense.db", show_default=True, type=click.Path(dir_okay=False),
              help="The host's database: the device's key and current nonce, which sign the command.")
@click.option("--broker", default=None, metavar="mqtt[s]://[USER@]HOST:PORT",
              help="The broker the device and host use, with the host's login (default: the embedded broker of "
                   "the host serving --db).")
@broker_login_options
def command(device, cmd, db_path, broker, password_file, ca_file, cert_file, key_file):
    """Send CMD to DEVICE: sync (send pending records now), status, reboot, identify.

    The command is signed with the device's key from the host's database and bound to the device's
    current connection, so only this host's commands are obeyed and none can be replayed later.
    """
    from .commands import CommandError, embedded_login, send_command, signed_command

    if not Path(db_path).exists():
        raise click.ClickException(f"no database at {db_path}: give the host's --db")
    try:
        address = broker_address(broker, password_file, ca_file, cert_file, key_file) or embedded_login(db_path)
        with _open_store(db_path) as store:
            payload = signed_command(store, device, cmd)
        cid = send_command(address, device, cmd, payload=payload)
    except (CommandError, ValueError) as e:
        raise click.ClickException(str(e))
    click.echo(f"sent {cmd} to {device} (command id {cid}, signed for its current connection)")


def _open_store(db_path):
    """The Store of ``db_path``; a file this tiesense cannot open is a one-line error."""
    from .store import SchemaTooNew, Store

    try:
        return Store(db_path)
    except SchemaTooNew as e:
        raise click.ClickException(str(e))


@main.group()
def devices():
    """Device identities: broker logins, signing keys, and the Mosquitto files that enforce them."""


@devices.command("provision")
@click.argument("name")
@click.option("--site", required=True, help="Where the device stands (a park, a building, a lobby).")
@click.option("--broker-host", required=True, help="The broker's address as the device reaches it on the site's network.")
@click.option("--broker-port", default=None, type=int, help="The broker's port for devices (1883; 8883 with --tls).")
@click.option("--tls", is_flag=True, help="The device talks TLS to the broker ('firmware stage --ca-file' gives it the CA).")
@click.option("--role", type=click.Choice(["kiosk", "handheld"]), default="kiosk", show_default=True)
@click.option("--db", "db_path", default="tiesense.db", show_default=True, type=click.Path(dir_okay=False),
              help="The host's database, which keeps the device's password hash and key.")
@click.option("--out", default="tiesense-provisioning", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the device's site.json, the host's password file and Mosquitto's password and ACL files.")
def devices_provision(name, site, broker_host, broker_port, tls, role, db_path, out):
    """Create device NAME: a broker login and a signing key in site.json to copy onto it, and the
    Mosquitto password and ACL files that let it publish only its own records and status."""
    from pathlib import Path

    from .provisioning import (ProvisioningError, host_login, provision, write_broker_files, write_host_password,
                               write_site_config)

    out = Path(out)
    try:
        with _open_store(db_path) as store:
            device = provision(store, name, site, broker_host=broker_host, broker_port=broker_port, role=role,
                               tls=tls)
            host_password = host_login(store)
            passwords, acl = write_broker_files(store, out / "mosquitto")
    except ProvisioningError as e:
        raise click.ClickException(str(e))
    site_json = write_site_config(device, out / "devices" / name)
    click.echo(f"provisioned {name} at {site}: tiesense firmware stage DIR --site-json {site_json} builds "
               "its Pico W filesystem to copy over USB")
    if host_password is not None:
        path = write_host_password(host_password, out)
        click.echo(f"the host logs in as tiesense-host: tiesense serve --broker mqtt://tiesense-host@BROKER "
                   f"--password-file {path}")
    click.echo(f"Mosquitto: password_file {passwords.resolve()}, acl_file {acl.resolve()}, "
               "allow_anonymous false; reload it (kill -HUP) after every change")


@devices.command("revoke")
@click.argument("name")
@click.option("--db", "db_path", default="tiesense.db", show_default=True, type=click.Path(exists=True, dir_okay=False),
              help="The host's database.")
@click.option("--out", default="tiesense-provisioning", show_default=True, type=click.Path(file_okay=False),
              help="Folder holding Mosquitto's password and ACL files, rewritten without the device.")
def devices_revoke(name, db_path, out):
    """Take device NAME out: its login leaves Mosquitto's password file (reload Mosquitto to apply)."""
    from pathlib import Path

    from .provisioning import ProvisioningError, revoke, write_broker_files

    try:
        with _open_store(db_path) as store:
            revoke(store, name)
            passwords, _ = write_broker_files(store, Path(out) / "mosquitto")
    except ProvisioningError as e:
        raise click.ClickException(str(e))
    click.echo(f"revoked {name}; {passwords} rewritten: reload Mosquitto (kill -HUP) to shut it out")


@devices.command("list")
@click.option("--db", "db_path", default="tiesense.db", show_default=True, type=click.Path(exists=True, dir_okay=False),
              help="The host's database.")
@click.option("--all", "show_all", is_flag=True, help="Also the revoked devices.")
def devices_list(db_path, show_all):
    """List provisioned devices with their site and when they were provisioned (or revoked)."""
    with _open_store(db_path) as store:
        rows = store.identities("device", active=not show_all)
    if not rows:
        click.echo(f"no devices provisioned in {db_path}: tiesense devices provision NAME --site S --broker-host H")
        return
    for r in rows:
        state = f"revoked {r['revoked_at']}" if r["revoked_at"] else f"since {r['created_at']}"
        click.echo(f"{r['name']:<20} {r['site'] or '':<20} {state}")


@main.group()
def firmware():
    """The device firmware: build it from firmware/manifest.py, stage a Pico W's filesystem, deploy it with mpremote."""


def _stage(dest, site_json, **kwargs):
    """``(site, image)``: the device's site.json read and staged into ``dest`` (deploy.stage_image);
    a bad file or a missing tool is a one-line error."""
    import json

    from .deploy import DeployError, stage_image
    from .devices import MissingTool

    try:
        site = json.loads(open(site_json, encoding="utf-8").read())
        if not isinstance(site, dict):
            raise DeployError(f"{site_json} must hold a JSON object of settings")
        return site, stage_image(dest, site, **kwargs)
    except ValueError as e:  # DeployError, or a site.json that is not JSON
        raise click.ClickException(f"{site_json}: {e}" if not isinstance(e, DeployError) else str(e))
    except MissingTool as e:
        raise click.ClickException(str(e))


@firmware.command("build")
@click.option("--out", default="tiesense-firmware", show_default=True, type=click.Path(file_okay=False),
              help="New or empty folder for the compiled firmware.")
def firmware_build(out):
    """Compile the modules firmware/manifest.py lists for the RP2040 (mpy-cross -march=armv6m): the files every
    device runs, without any one device's site.json (stage and deploy add it)."""
    from .deploy import DeployError, build_firmware
    from .devices import MissingTool, firmware_dir
    from .manifest import read_manifest

    try:
        image = build_firmware(out)
    except (DeployError, MissingTool) as e:
        raise click.ClickException(str(e))
    version = read_manifest(firmware_dir() / "manifest.py").version
    click.echo(f"built tiesense firmware {version} in {out}: {len(image.files)} files, {image.bytes} bytes")


@firmware.command("deploy")
@click.option("--port", required=True, metavar="PORT",
              help="The board's USB serial port: /dev/ttyACM0 on Linux, /dev/cu.usbmodem... on macOS, COM3 on Windows.")
@click.option("--site", "site_json", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The device's site.json, as 'tiesense devices provision' wrote it.")
@click.option("--form", default=None, help="The form the device starts with (default: the site.json's, else tp_visit).")
@click.option("--ca-file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="CA certificate (PEM or DER) that signed the broker's, for a device provisioned with --tls.")
@click.option("--no-reset", is_flag=True,
              help="Neither soft-reset on connect nor reset at the end (mpremote 'resume'): for the MicroPython "
                   "unix port on a pty, where a soft reset ends the process.")
@click.option("--dry-run", is_flag=True, help="Build the image and print the mpremote command line; touch no board.")
def firmware_deploy(port, site_json, form, ca_file, no_reset, dry_run):
    """Build the firmware with the device's site.json, form and CA, and install it on the board at PORT with
    mpremote (its data/ folder, the record log, is kept); the board then restarts into it."""
    import shlex
    import tempfile

    from .install import InstallError, install, mpremote_argv

    with tempfile.TemporaryDirectory(prefix="tiesense-deploy-") as tmp:
        site, image = _stage(Path(tmp) / "image", site_json, form=form, ca_file=ca_file)
        if dry_run:
            click.echo(f"cd IMAGE && {shlex.join(mpremote_argv(image.files, port, reset=not no_reset))}")
            return
        with click.progressbar(length=len(image.files), label=f"{site['device']} -> {port}", file=sys.stderr,
                               show_pos=True, item_show_func=lambda f: f) as bar:
            try:
                done = install(image.root, image.files, port, reset=not no_reset,
                               progress=lambda name: bar.update(1, name))
            except InstallError as e:
                raise click.ClickException(str(e))
    click.echo(f"deployed {site['device']} on {port}: {len(done.files)} files, {done.bytes} bytes; "
               + ("it keeps running the REPL (--no-reset)" if no_reset else
                  "it restarts now: watch its console with 'python -m mpremote connect " + port + " repl'"))


@firmware.command("stage")
@click.argument("dest", type=click.Path(file_okay=False))
@click.option("--site-json", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The device's settings, e.g. the site.json 'tiesense devices provision' wrote.")
@click.option("--form", default=None, help="The form the device starts with (default: the site.json's, else tp_visit).")
@click.option("--no-mpy", is_flag=True, help="Copy the modules as source instead of compiling them for the RP2040.")
@click.option("--ca-file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="CA certificate (PEM or DER) that signed the broker's, for a device provisioned with --tls.")
def firmware_stage(dest, site_json, form, no_mpy, ca_file):
    """Build in DEST the files a Pico W needs: firmware compiled for the RP2040, wire contract, form, site.json."""
    site, image = _stage(dest, site_json, form=form, compile_mpy=not no_mpy, ca_file=ca_file)
    click.echo(f"staged {site['device']} in {dest}: {len(image.files)} files, {image.bytes} bytes; "
               f"copy it onto the Pico W with: {image.mpremote}")


@main.command()
@click.option("--port", required=True, metavar="PORT",
              help="The device's USB serial port: /dev/ttyACM0 on Linux, /dev/cu.usbmodem... on macOS, "
                   "COM3 on Windows.")
@click.option("--db", "db_path", default="tiesense.db", show_default=True, type=click.Path(dir_okay=False),
              help="The host's database: records go there, and the device's key in it signs the acks.")
@click.option("--list", "list_only", is_flag=True, help="Only say what the device holds; transfer nothing.")
@click.option("--timeout", default=2.0, show_default=True, type=click.FloatRange(min=0.1), metavar="SECONDS",
              help="How long to wait for each answer before sending the frame again (5 more tries).")
@click.option("--chunk-bytes", default=16384, show_default=True, type=click.IntRange(256, 65536),
              help="Records asked for per request, in bytes of records message.")
def pull(port, db_path, list_only, timeout, chunk_bytes):
    """Pull a handheld's (or kiosk's) records over USB serial into the database: checked, stored once and
    acknowledged as over MQTT, so the device frees them; a pulled cable just means pulling again."""
    from .ingest.serial import LinkLost, OffloadError, pull_store

    def bar(info):
        return click.progressbar(length=info.queue, label=f"{info.device}: {info.queue} records",
                                 file=sys.stderr, show_pos=True)

    try:
        got = pull_store(port, db_path, list_only=list_only, progress_factory=bar, timeout=timeout,
                         chunk_bytes=chunk_bytes)
    except LinkLost as e:
        raise click.ClickException(f"{e}: nothing leaves the device before the host has stored it, so run "
                                   "tiesense pull again to resume")
    except OffloadError as e:
        raise click.ClickException(str(e))
    if list_only:
        span = f", seq {got.first}..{got.last}" if got.queue else ""
        click.echo(f"{got.device} ({got.role}, firmware {got.fw}, {'signed' if got.signed else 'unsigned'}): "
                   f"{got.queue} records waiting{span}")
        return
    click.echo(f"pulled {got.received} records from {got.device} in {got.seconds:.1f} s ({got.rate:.0f} records/s): "
               f"{got.stored} stored, {got.duplicates} duplicates, {got.conflicts} conflicts, {got.quarantined} "
               f"quarantined; {got.remaining} left on the device")
    if got.refused_acks:
        raise click.ClickException(f"{got.device} refused {got.refused_acks} acks (they do not verify with its key): "
                                   f"its records stay on it; is {db_path} the database that provisioned it?")


@main.command()
@click.option("--db", "db_path", default="tiesense.db", show_default=True, type=click.Path(dir_okay=False),
              help="The host's database.")
@click.option("--device", default=None, help="Only this kiosk.")
def presence(db_path, device):
    """Footfall and response rate per kiosk and hour, from the kiosks' presence records."""
    from .presence import hourly

    if not Path(db_path).exists():
        raise click.ClickException(f"no database at {db_path}: give the host's --db")
    with _open_store(db_path) as store:
        hours = store.read(hourly, device)
    if not hours:
        raise click.ClickException(f"no presence records in {db_path} yet: kiosks log one per interval in which "
                                   "anything happened (presence_interval_s, 5 minutes by default)")
    click.echo(f"{'kiosk':<14} {'hour (UTC)':<21} {'approaches':>10} {'dwell s':>8} {'started':>8} "
               f"{'completed':>9} {'abandoned':>9} {'response':>8}")
    for h in hours:
        rate = f"{h.response_rate:.0%}" if h.response_rate is not None else "-"
        flag = "  (clock unsynced)" if h.unsynced else ""
        click.echo(f"{h.device:<14} {h.hour:<21} {h.approaches:>10} {h.dwell_s:>8} {h.started:>8} {h.completed:>9} "
                   f"{h.abandoned:>9} {rate:>8}{flag}")


@main.group()
def ties():
    """Tie-strength estimates between organisations (table tie_estimates)."""


@ties.command("recompute")
@click.option("--db", "db_path", default="tiesense.db", show_default=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--mode", type=click.Choice(["mean", "min", "max", "confirmed"]), default="mean", show_default=True,
              help="How the two sides' reports of a tie are reconciled.")
@click.option("--replicates", default=500, show_default=True, help="Bootstrap replicates over respondents.")
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap (same seed, same intervals).")
@click.option("--weight", "weight_args", multiple=True, metavar="COMPONENT=W",
              help="A composite weight, e.g. --weight closeness=0.4 (repeat; components not named keep their default).")
@click.option("--standardise", "method", type=click.Choice(["anchors", "minmax", "zscore"]), default="anchors",
              show_default=True, help="anchors: each scale's ends (values compare across waves); minmax/zscore: the sample's.")
@click.option("--window-hours", default=1.0, show_default=True,
              help="Co-presence: check-ins at one kiosk within this many hours are one event.")
def ties_recompute(db_path, mode, replicates, seed, weight_args, method, window_hours):
    """Recompute the survey-composite estimate of every dyad, co-presence from kiosk check-ins, and the node and
    cluster measures, with bootstrap intervals."""
    from .estimates import recompute_all, recompute_copresence
    from .ties.estimators import COMPONENTS, DEFAULT_WEIGHTS

    weights = dict(DEFAULT_WEIGHTS)
    for arg in weight_args:
        name, _, value = arg.partition("=")
        if name not in COMPONENTS:
            raise click.BadParameter(f"'{name}' is not a component; components: {', '.join(COMPONENTS)}",
                                     param_hint="--weight")
        try:
            weights[name] = float(value)
        except ValueError:
            raise click.BadParameter(f"'{arg}': the weight must be a number, e.g. {name}=0.3",
                                     param_hint="--weight") from None
        if weights[name] < 0:
            raise click.BadParameter(f"'{arg}': weights are not negative", param_hint="--weight")
    with _open_store(db_path) as store:
        # the replicates of the dyads' intervals, then of the measures' (a bar on a terminal, one line elsewhere)
        with click.progressbar(length=2 * replicates, label="bootstrap replicates", file=sys.stderr,
                               show_eta=False) as bar:
            n, orgs = recompute_all(store, mode=mode, n_replicates=replicates, seed=seed, weights=weights,
                                    method=method, progress=bar.update)
        click.echo(f"{n} dyads estimated (composite, {mode}, {replicates} bootstrap replicates) in {db_path}")
        click.echo("  weights: " + ", ".join(f"{k} {weights[k]:g}" for k in COMPONENTS) + f"; standardised: {method}")
        pairs = recompute_copresence(store, window_hours=window_hours)
        click.echo(f"{pairs} co-present pairs (copresence, {window_hours:g} h events at each kiosk)")
        click.echo(f"{orgs} organisations measured (org_measures, cluster_measures)")


@ties.command("show")
@click.option("--db", "db_path", default="tiesense.db", show_default=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--estimator", type=click.Choice(["composite", "decayed_rate", "copresence"]), default=None,
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
        interval = f"[{r['low']:.4f}, {r['high']:.4f}]" if r["low"] is not None else (
            "significant" if r["confirmed"] else "chance")
        click.echo(f"{r['u']:>7} {r['v']:>7}  {r['estimator']:<13} {r['value']:>9.4f}  "
                   f"{interval:<21}{'':<3} {r['observations']:>4}")


@main.command()
@click.argument("dest", type=click.Path(dir_okay=False))
@click.option("--db", "db_path", default="tiesense.db", show_default=True, type=click.Path(dir_okay=False),
              help="The database to copy; its host may keep running.")
@click.option("--pause", default=0.0, show_default=True, type=click.FloatRange(min=0), metavar="SECONDS",
              help="Rest between steps of 1 MiB, leaving the disk to the host (a slow SD card).")
def backup(dest, db_path, pause):
    """Copy the database to DEST while the host keeps ingesting: one consistent snapshot, checked
    (integrity_check, opens as a tiesense store), renamed to DEST only when complete."""
    from .store import SchemaTooNew
    from .store.backup import BackupError, backup as run

    bar = None

    def show(done, total):
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label="backup", file=sys.stderr).__enter__()
        bar.update(done - bar.pos)

    try:
        report = run(db_path, dest, progress=show if sys.stderr.isatty() else None, pause=pause)
    except (BackupError, SchemaTooNew) as e:
        raise click.ClickException(str(e))
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    click.echo(f"backed up {report.source} to {report.dest}: {report.records} records, {report.quarantine} "
               f"quarantined, {report.bytes / 1e6:.1f} MB, integrity ok, in {report.seconds:.1f} s")


@main.command()
@click.argument("src", type=click.Path(dir_okay=False))
@click.option("--db", "db_path", default="tiesense.db", show_default=True, type=click.Path(dir_okay=False),
              help="The database to replace; it is kept as DB.before-restore-<time>.")
def restore(src, db_path):
    """Put the backup SRC in place of the database (no host may be running); the database it
    replaces is kept, and a backup of an older tiesense is upgraded."""
    from .store import SchemaTooNew
    from .store.backup import BackupError, restore as run

    try:
        report = run(src, db_path)
    except (BackupError, SchemaTooNew) as e:
        raise click.ClickException(str(e))
    upgraded = (f" (upgraded from schema {report.schema_from} to {report.schema_version})"
                if report.schema_from != report.schema_version else "")
    kept = f"; the database it replaced is kept as {report.kept}" if report.kept else ""
    click.echo(f"restored {report.source} into {report.db_path}: {report.records} records, "
               f"{report.quarantine} quarantined{upgraded}{kept}")


@main.group()
def users():
    """Users who log in to the web pages (roles admin, analyst, viewer)."""


def _read_password(password_file):
    if password_file is not None:
        with open(password_file, encoding="utf-8") as f:
            return f.read().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users.command("create-admin")
@click.argument("name")
@click.option("--db", "db_path", default="tiesense.db", show_default=True, type=click.Path(dir_okay=False),
              help="The host's database (created if missing).")
@click.option("--password-file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Read the password from this file (its first line) instead of prompting.")
def users_create_admin(name, db_path, password_file):
    """Create the admin user NAME who logs in to the web pages (prompts for the password twice)."""
    from .access import AccessError, create_user

    password = _read_password(password_file)
    try:
        with _open_store(db_path) as store:
            create_user(store, name, password, "admin")
    except AccessError as e:
        raise click.ClickException(str(e))
    click.echo(f"admin {name} created in {db_path}: log in at /login of tiesense serve --api")


@users.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "analyst", "viewer"]), required=True)
@click.option("--db", "db_path", default="tiesense.db", show_default=True, type=click.Path(dir_okay=False),
              help="The host's database (created if missing).")
@click.option("--password-file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Read the password from this file (its first line) instead of prompting.")
def users_create(name, role, db_path, password_file):
    """Create user NAME with ROLE for the web pages (prompts for the password twice)."""
    from .access import AccessError, create_user

    password = _read_password(password_file)
    try:
        with _open_store(db_path) as store:
            create_user(store, name, password, role)
    except AccessError as e:
        raise click.ClickException(str(e))
    click.echo(f"{role} {name} created in {db_path}")


@users.command("set-password")
@click.argument("name")
@click.option("--db", "db_path", default="tiesense.db", show_default=True,
              type=click.Path(exists=True, dir_okay=False), help="The host's database.")
@click.option("--password-file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Read the password from this file (its first line) instead of prompting.")
def users_set_password(name, db_path, password_file):
    """Give user NAME a new password (prompts twice); their open login sessions end."""
    from .access import AccessError, set_password

    password = _read_password(password_file)
    try:
        with _open_store(db_path) as store:
            set_password(store, name, password)
    except AccessError as e:
        raise click.ClickException(str(e))
    click.echo(f"new password set for {name}; their sessions ended")


@users.command("list")
@click.option("--db", "db_path", default="tiesense.db", show_default=True,
              type=click.Path(exists=True, dir_okay=False), help="The host's database.")
def users_list(db_path):
    """List the users of the web pages with their role (never their password hashes)."""
    from .store import access

    with _open_store(db_path) as store:
        rows = store.read(access.users)
    for r in rows:
        click.echo(f"{r['name']:<24} {r['role']:<8} since {r['created_at']}")


@main.group()
def tokens():
    """API tokens (Authorization: Bearer ...); only their hashes are kept."""


@tokens.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "analyst", "viewer"]), required=True,
              help="viewer: aggregates only (k-anonymous); analyst: every row and export; admin: also roster, "
                   "forms, devices, quarantine.")
@click.option("--db", "db_path", default="tiesense.db", show_default=True, type=click.Path(dir_okay=False),
              help="The host's database (created if missing).")
def tokens_create(name, role, db_path):
    """Create an API token NAME with ROLE and print it once (it cannot be shown again)."""
    from .access import AccessError, create_token

    try:
        with _open_store(db_path) as store:
            token = create_token(store, name, role)
    except AccessError as e:
        raise click.ClickException(str(e))
    click.echo(token)
    click.echo(f"({role} token {name}: shown once, keep it now; revoke with tiesense tokens revoke {name})",
               err=True)


@tokens.command("list")
@click.option("--db", "db_path", default="tiesense.db", show_default=True,
              type=click.Path(exists=True, dir_okay=False), help="The host's database.")
@click.option("--all", "show_all", is_flag=True, help="Also the revoked tokens.")
def tokens_list(db_path, show_all):
    """List API tokens by name with their role (never the tokens themselves)."""
    from .store import access

    with _open_store(db_path) as store:
        rows = store.read(access.tokens, not show_all)
    for r in rows:
        state = f"revoked {r['revoked_at']}" if r["revoked_at"] else f"since {r['created_at']}"
        click.echo(f"{r['name']:<24} {r['role']:<8} {state}")


@tokens.command("revoke")
@click.argument("name")
@click.option("--db", "db_path", default="tiesense.db", show_default=True,
              type=click.Path(exists=True, dir_okay=False), help="The host's database.")
def tokens_revoke(name, db_path):
    """Revoke the API token NAME: requests with it are refused from now on."""
    from .access import AccessError, revoke_token

    try:
        with _open_store(db_path) as store:
            revoke_token(store, name)
    except AccessError as e:
        raise click.ClickException(str(e))
    click.echo(f"revoked token {name}")


@main.group("roster")
def roster_group():
    """The roster of organisations (codes, names, actor types), in versions."""


@roster_group.command("import")
@click.argument("roster_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--db", "db_path", default="tiesense.db", show_default=True, type=click.Path(dir_okay=False),
              help="The host's database (created if missing).")
def roster_import(roster_file, db_path):
    """Import a roster (CSV UTF-8, or an .xlsx workbook: code,name,actor_type,region,sector,size) as the new
    roster version."""
    from pathlib import Path

    from .store.roster import RosterError, parse

    try:
        rows = parse(Path(roster_file).read_bytes(), Path(roster_file).name)
    except RosterError as e:
        raise click.ClickException(f"{roster_file}: {e}")
    with _open_store(db_path) as store:
        version, created = store.import_roster(rows, source=Path(roster_file).name)
    click.echo(f"roster version {version}: {len(rows)} organisations" + ("" if created else " (unchanged)"))


@main.command("export")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(["csv", "xlsx", "graphml", "gexf", "net", "dl", "json"]))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="File to write.")
@click.option("--db", "db_path", default="tiesense.db", show_default=True,
              type=click.Path(exists=True, dir_okay=False), help="The host's database.")
@click.option("--table", default=None, help="csv: only this table as one CSV (tp_visit, respondents, fi_partner).")
@click.option("--labels", is_flag=True, help="Tables: question and choice labels instead of names and codes.")
@click.option("--lang", default="en", show_default=True, help="Language of --labels.")
@click.option("--estimator", type=click.Choice(["composite", "decayed_rate"]), default="composite",
              show_default=True, help="Networks: whose tie estimates are the edges.")
@click.option("--codes-only", is_flag=True, help="Leave organisation names out (roster codes only).")
def export_command(fmt, out, db_path, table, labels, lang, estimator, codes_only):
    """Export the survey tables (csv zip, xlsx) or the tie network (graphml, gexf, net, dl, json) to --out."""
    import os

    from .export import ExportError, export

    bar = None

    def show(done, total):
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=max(total, 1), label=f"export {fmt}", file=sys.stderr).__enter__()
        bar.update(done - bar.pos)

    tmp = out + ".part"
    try:
        with _open_store(db_path) as store, open(tmp, "wb") as f:
            export(store, fmt, f, progress=show, names=not codes_only, labels=labels, lang=lang, table=table,
                   estimator=estimator)
        os.replace(tmp, out)
    except ExportError as e:
        raise click.ClickException(str(e))
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
        if os.path.exists(tmp):
            os.unlink(tmp)
    click.echo(f"exported {fmt} to {out} ({os.path.getsize(out)} bytes)")


# ------------------------------------------------------------------ forms

@main.group("forms")
def forms_group():
    """Survey forms: XLSForms compiled for the kiosks and handhelds (docs/forms.md)."""


def _compile_xlsform(source, target: str, *, roster_csv=None, db_path=None, use_roster: bool = True):
    """An XLSForm compiled for ``target`` with the organisations of ``roster_csv``, else of the current roster of
    the database ``db_path`` (``use_roster`` False: the form's own rows), else as it is; every refusal as a
    ClickException that names the file."""
    from .publishing import PublishError, compile_with_roster
    from .store.roster import RosterError
    from .xlsform import FormRefused, compile_xlsform
    from .xlsform.roster import Roster

    try:
        if roster_csv:
            return compile_xlsform(source, target, Roster.from_csv(Path(roster_csv).read_text(encoding="utf-8")))
        if db_path:
            with _open_store(db_path) as store:
                return compile_with_roster(store, source, target, roster=use_roster)
        return compile_xlsform(source, target, None)
    except FormRefused as e:
        raise click.ClickException(f"{source} cannot run on a {target}: {e}")
    except (RosterError, UnicodeDecodeError) as e:
        raise click.ClickException(f"{roster_csv}: {e}")
    except PublishError as e:
        raise click.ClickException(str(e))


@forms_group.command("compile")
@click.argument("xlsform", type=click.Path(exists=True, dir_okay=False))
@click.option("--for", "target", required=True, type=click.Choice(["kiosk", "handheld"]),
              help="The device: text and date questions need the handheld's keyboard.")
@click.option("--out", default=None, type=click.Path(dir_okay=False),
              help="Write the compiled form (JSON) here; default: standard output.")
@click.option("--roster", "roster_csv", default=None, type=click.Path(exists=True, dir_okay=False),
              help="A roster CSV (code,name,actor_type,...) whose organisations replace the form's roster list's "
                   "organisation rows (kind = org).")
@click.option("--db", "db_path", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Put this host database's current roster in the form's roster list instead.")
def forms_compile(xlsform, target, out, roster_csv, db_path):
    """Validate an XLSForm with pyxform and compile it into the device form, reporting its size.

    Everything outside the subset is refused, every row at once, each with what to use instead. With --roster
    or --db the roster's organisations replace the placeholder organisations of the form's roster list.
    """
    if roster_csv and db_path:
        raise click.ClickException("give the roster once: --roster FILE.csv or --db FILE (its current roster)")
    compiled = _compile_xlsform(xlsform, target, roster_csv=roster_csv, db_path=db_path)
    for w in compiled.warnings:
        click.echo(f"warning: {w}", err=True)
    data = compiled.to_bytes()
    form = compiled.form
    summary = (f"compiled {form['id']} version {form['version']} for the {target}: {len(form['questions'])} questions,"
               f" {compiled.size} bytes on the device")
    if "roster_version" in form:
        carried = "a roster file" if form["roster_version"] is None else f"roster version {form['roster_version']}"
        summary += f", with the {len(compiled.roster)} organisations of {carried}"
    if out:
        Path(out).write_bytes(data)
        click.echo(f"{summary} -> {out}")
    else:
        click.echo(data.decode("utf-8"))
        click.echo(summary, err=True)


@forms_group.command("preview")
@click.argument("xlsform", type=click.Path(exists=True, dir_okay=False))
@click.option("--lang", required=True, help="The language code to show (one of the form's, e.g. ko).")
@click.option("--question", required=True, help="The question's name (the survey sheet's name column).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The PNG to write.")
@click.option("--for", "target", default="kiosk", show_default=True, type=click.Choice(["kiosk", "handheld"]),
              help="Compile the form for this device (text and date questions need the handheld).")
def forms_preview(xlsform, lang, question, out, target):
    """Draw a question of an XLSForm as the kiosk's OLED and the handheld's panel show it, into a PNG.

    Compiles the form (with its glyphs) and runs the firmware's own drawing code under micropython.
    """
    from .devices import MissingTool
    from .preview import PreviewError, preview_question
    from .xlsform import FormRefused, compile_xlsform

    try:
        compiled = compile_xlsform(xlsform, target)
        shown = preview_question(compiled.form, question, lang, out)
    except FormRefused as e:
        raise click.ClickException(f"{xlsform} cannot run on a {target}: {e}")
    except (PreviewError, MissingTool) as e:
        raise click.ClickException(str(e))
    glyphs = compiled.form.get("glyphs")
    count = len(glyphs["narrow"]) + len(glyphs["wide"]) if glyphs else 0
    for name, lines in shown.lines.items():
        click.echo(f"{name}: " + " | ".join(lines))
    click.echo(f"{compiled.form['id']} '{question}' in {lang} -> {shown.png} (form {compiled.size} bytes on the"
               f" device with {count} glyphs)")


@forms_group.command("instruments")
def forms_instruments():
    """List the instruments tiesense ships as XLSForm, with their device and what they ask (docs/instruments.md)."""
    from .xlsform.instruments import describe, names, target

    for name in names():
        click.echo(f"{name} ({target(name)}): {describe(name)}")


@forms_group.command("new")
@click.argument("name")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="The workbook to write (.xlsx), to open in Excel or LibreOffice and adapt.")
def forms_new(name, out):
    """Write a shipped instrument (see 'tiesense forms instruments') as an XLSForm workbook to adapt, then compile."""
    from .xlsform.instruments import InstrumentError, target, write_workbook

    try:
        path = write_workbook(name, out)
    except InstrumentError as e:
        raise click.ClickException(str(e))
    click.echo(f"wrote {name} to {path}; adapt it, give it a new version, then: "
               f"tiesense forms compile {path} --for {target(name)}")


@forms_group.command("publish")
@click.argument("form_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--db", "db_path", default="tiesense.db", show_default=True, type=click.Path(exists=True, dir_okay=False),
              help="The host's database: the published versions, and the sites' keys that sign the form.")
@click.option("--for", "target", default=None, type=click.Choice(["kiosk", "handheld"]),
              help="Compile an XLSForm (.xlsx, .xls, .md) for this device first; a compiled form (.json) as it is.")
@click.option("--wave", default=None, help="The survey wave of this version's records that carry no wave answer.")
@click.option("--version", "version", default=None,
              help="Publish as this version instead of the form's own (e.g. the shipped interview with the park's "
                   "roster: devices adopt only a version newer than the built-in one).")
@click.option("--no-roster", is_flag=True,
              help="Keep the XLSForm's own organisation rows (kind = org) instead of the database's current roster.")
@click.option("--roster", "roster_csv", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Put this roster CSV's organisations in the XLSForm's roster list instead (e.g. a kiosk's "
                   "tenants: at most 50); their codes must be the database roster's.")
@click.option("--broker", default=None, metavar="mqtt[s]://[USER@]HOST:PORT",
              help="Deliver through this broker with the host's login (default: the embedded broker of the host "
                   "serving --db; with no host running, it delivers the form when it starts).")
@broker_login_options
def forms_publish(form_file, db_path, target, wave, version, no_roster, roster_csv, broker, password_file, ca_file,
                  cert_file, key_file):
    """Publish a form version to the host's database and deliver it to the devices (retained, signed for
    every site). A published version never changes; a new one must be newer and keep each question's type.
    An XLSForm's roster list gets the database's current roster (its organisation rows replaced)."""
    import json as _json

    from . import wire
    from .commands import CommandError, embedded_login, login_file, publish_message
    from .publishing import PublishError, publish

    if no_roster and roster_csv:
        raise click.ClickException("--no-roster keeps the form's own organisation rows and --roster replaces them: "
                                   "give one of them")
    if Path(form_file).suffix.lower() == ".json":
        try:
            form = _json.loads(Path(form_file).read_text(encoding="utf-8"))
        except ValueError as e:
            raise click.ClickException(f"{form_file} is not JSON ({e}): give a compiled form or an XLSForm")
    else:
        if target is None:
            raise click.ClickException(f"{form_file} is an XLSForm: say which device runs it, --for kiosk or "
                                       "--for handheld")
        form = _compile_xlsform(form_file, target, roster_csv=roster_csv, db_path=db_path,
                                use_roster=not no_roster).form
    try:
        with _open_store(db_path) as store:
            created = publish(store, form, wave=wave, version=version)
            if version is not None:
                form = dict(form, version=version)
            stored = {(f["id"], f["version"]): f for f in store.forms()}[(form["id"], form["version"])]
            site_keys = store.site_keys() or None
    except PublishError as e:
        raise click.ClickException(str(e))
    carried = ("" if "roster_version" not in form else ", with a roster file" if form["roster_version"] is None
               else f", with roster version {form['roster_version']}")
    click.echo(f"{'published' if created else 'already published'}: {form['id']} version {form['version']}"
               + (f", wave {wave}" if wave else "") + carried + f" in {db_path}")
    if broker is None and not login_file(db_path).exists():
        click.echo("no host is serving it now: the host delivers it to the devices when it starts")
        return
    try:
        address = broker_address(broker, password_file, ca_file, cert_file, key_file) or embedded_login(db_path)
        publish_message(address, wire.topic_form(form["id"]), wire.encode_form(stored, site_keys),
                        qos=wire.QOS_FORM, retain=True, what="the form")
    except (CommandError, ValueError, wire.WireError) as e:
        raise click.ClickException(f"published, but not delivered: {e}; the host delivers it at its next start")
    click.echo(f"delivered to the devices of form {form['id']} (retained on {wire.topic_form(form['id'])})")


@main.command("kiosk")
@click.option("--sim", is_flag=True, required=True,
              help="Run the real firmware under micropython, drawn in this terminal (the only kind so far).")
@click.option("--handheld", is_flag=True,
              help="A handheld: the firm-interaction interview on its 320x240 screen (40x15 characters), "
                   "typed on the keyboard.")
@click.option("--db", "db_path", default="tiesense.db", show_default=True, type=click.Path(dir_okay=False),
              help="The host's database: the device is provisioned there, and connects to the embedded broker of "
                   "the 'tiesense serve' running on it (else one is started here).")
@click.option("--broker", default=None, metavar="mqtt://HOST:PORT",
              help="Connect to this broker instead (e.g. Mosquitto, with a host ingesting --db).")
@click.option("--name", default=None, help="Device id (default virtual-kiosk / virtual-handheld), provisioned afresh.")
def kiosk_command(sim, handheld, db_path, broker, name):
    """A virtual kiosk: the real firmware under micropython, its screen drawn here and the arrow keys, Enter
    and Backspace as its buttons, connected to a local host, so you can answer a survey and see it arrive."""
    from .terminal import open_session, run_terminal
    from .virtual import VirtualError

    if not sys.stdin.isatty():
        raise click.ClickException("tiesense kiosk --sim reads keys from a terminal: run it in one")
    try:
        dev, host = open_session(db_path, broker, handheld=handheld, name=name, echo=click.echo)
    except VirtualError as e:
        raise click.ClickException(str(e))
    try:
        rc = run_terminal(dev)
    finally:
        tail = dev.device.read_output()[-1500:] if dev.device is not None else ""
        dev.close()
        if host is not None:
            host.stop()
    if rc:
        raise click.ClickException(f"the device stopped ({rc}):\n{tail}")
    click.echo(f"{dev.name} stopped; its records are in {db_path} (tiesense export csv --db {db_path} --out FILE)")


@main.group("assets")
def assets_group():
    """The dashboards' plotly.js bundles (npm packages, verified against pinned digests)."""


@assets_group.command("install")
@click.option("--from", "source", default=None, type=click.Path(exists=True, file_okay=False),
              help="A folder holding the tarballs (for a machine without the internet) instead of the npm registry.")
def assets_install(source):
    """Fetch each chart page's partial plotly.js bundle, so a page's first visit compiles 1.6 MB, not 4.6 MB."""
    from pathlib import Path

    from .web.pages.bundles import BUNDLES, BundleError, assets_dir, install, installed

    todo = [b for b in BUNDLES.values() if installed(b) is None]
    bars = {}

    def progress(bundle, got, total):
        bar = bars.get(bundle.package)
        if bar is None:
            bar = bars[bundle.package] = click.progressbar(length=max(total, 1), label=bundle.tarball,
                                                           file=sys.stderr).__enter__()
        bar.update(got - bar.pos)

    try:
        paths = install(source=Path(source) if source else None, progress=progress)
    except BundleError as e:
        raise click.ClickException(str(e))
    finally:
        for bar in bars.values():
            bar.__exit__(None, None, None)
    for bundle, path in zip(BUNDLES.values(), paths):
        click.echo(f"{bundle.package} {bundle.version}: {path}" + ("" if bundle in todo else " (already there)"))
    click.echo(f"the dashboards load these from {assets_dir()} (restart a running tiesense serve)")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
