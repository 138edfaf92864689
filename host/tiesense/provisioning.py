"""Device identity: provision a device (broker login, secret key, the site.json to copy onto it), revoke
it, and write the Mosquitto password and ACL files that let each device do only its own business.

The rules the ACL file gives Mosquitto (``acl_file``):

* a device (MQTT user = its device id) may publish only ``tiesense/v1/<id>/records``
  and ``/status``, and read only ``tiesense/v1/<id>/ack``, ``/cmd`` and the forms;
* the host's user alone may read every device's records and status and publish
  acks, commands and (retained) forms;
* nobody else gets in: the password file lists exactly the host and the devices
  not revoked, and the configuration in docs/operations.md refuses anonymous clients.

Passwords are random and shown once (in the files written for the device and the
host); the database keeps only Mosquitto's ``$7$`` PBKDF2-SHA512 hash. A device's
key (32 random bytes) is what it will sign its records with; it travels only in
the device's site.json, copied over USB, never over MQTT.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from . import wire
from .store import Store, now_iso

__all__ = ["HOST_USER", "Provisioned", "ProvisioningError", "provision", "provision_afresh", "revoke", "host_login",
           "mosquitto_password_hash", "verify_password", "mosquitto_password_file", "mosquitto_acl_file",
           "write_broker_files", "write_site_config", "write_host_password", "write_secret", "may", "BrokerLogins"]

#: The MQTT user the host logs in as.
HOST_USER = "tiesense-host"
#: Mosquitto 2.0's default PBKDF2 iterations for ``$7$`` hashes (mosquitto_passwd).
PBKDF2_ITERATIONS = 101


class ProvisioningError(ValueError):
    """A name that cannot be provisioned or revoked; the message says what to do."""


@dataclass
class Provisioned:
    """A device just provisioned: its secrets, shown once, and the site.json that carries them."""

    name: str
    site: str
    password: str
    key: str
    site_config: dict

    def __repr__(self) -> str:  # never print the secrets
        return f"Provisioned(name={self.name!r}, site={self.site!r})"


def mosquitto_password_hash(password: str, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """The ``$7$`` hash Mosquitto 2.0 keeps in a password file: PBKDF2-HMAC-SHA512 over a 12-byte salt.

    Examples
    --------
    >>> h = mosquitto_password_hash("secret", salt=bytes(12))
    >>> h.startswith("$7$101$AAAAAAAAAAAAAAAA$") and len(h.split("$")[-1]) == 88
    True
    """
    salt = os.urandom(12) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, 64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str | None, hashed: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash of :func:`mosquitto_password_hash`.

    Examples
    --------
    >>> h = mosquitto_password_hash("secret")
    >>> verify_password("secret", h), verify_password("Secret", h), verify_password(None, h)
    (True, False, False)
    """
    try:
        _, kind, iterations, salt, digest = hashed.split("$")
        if kind != "7" or password is None:
            return False
        again = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), base64.b64decode(salt), int(iterations), 64)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(base64.b64encode(again).decode(), digest)


def _matches(pattern: str, topic: str) -> bool:
    """MQTT matching of ``topic`` (a name, or a subscription filter) against an ACL ``pattern``:
    ``+`` covers one level, ``#`` the rest; a filter's own wildcards must be covered by the pattern's."""
    p, t = pattern.split("/"), topic.split("/")
    for i, level in enumerate(p):
        if level == "#":
            return True
        if i >= len(t) or (level != "+" and level != t[i]) or (t[i] == "#" and level != "#"):
            return False
    return len(p) == len(t)


def may(user: str, role: str, topic: str, action: str) -> bool:
    """Whether ``user`` (role ``host`` or ``device``) may ``publish``, ``subscribe`` or ``receive`` on
    ``topic``: the rules :func:`mosquitto_acl_file` gives Mosquitto, for the embedded broker.

    Examples
    --------
    >>> may("kiosk-05", "device", "tiesense/v1/kiosk-05/records", "publish")
    True
    >>> may("kiosk-05", "device", "tiesense/v1/kiosk-06/records", "publish")
    False
    >>> may("kiosk-05", "device", "tiesense/v1/+/ack", "subscribe")
    False
    >>> may(HOST_USER, "host", "$share/ingest/tiesense/v1/+/records", "subscribe")
    True
    """
    p = wire.PREFIX
    if topic.startswith("$share/"):
        parts = topic.split("/", 2)
        topic = parts[2] if len(parts) == 3 else ""
    if role == "host":
        read = (f"{p}/+/records", f"{p}/+/status", f"{p}/forms/+")
        write = (f"{p}/+/ack", f"{p}/+/cmd", f"{p}/forms/+")
    elif role == "device" and wire.valid_device_id(user):
        read = (f"{p}/{user}/ack", f"{p}/{user}/cmd", f"{p}/forms/+")
        write = (f"{p}/{user}/records", f"{p}/{user}/status")
    else:
        return False
    return any(_matches(pattern, topic) for pattern in (write if action == "publish" else read))


class BrokerLogins:
    """Who may log in to the embedded broker: the store's identities not revoked, plus ``extra``
    logins known only to this process (the host's own, for one run). What a logged-in user may
    then do is :func:`may` of its role, which the broker keeps with the connection.

    A login is checked against the database at every connect, so a device provisioned
    or revoked by another process counts from its next connection on.

    Examples
    --------
    >>> store = Store(":memory:")
    >>> dev = provision(store, "kiosk-05", "lobby-a", broker_host="127.0.0.1")
    >>> logins = BrokerLogins(store, extra={HOST_USER: "run-secret"})
    >>> logins.authenticate("kiosk-05", dev.password), logins.authenticate("kiosk-05", "guess")
    ('device', None)
    >>> logins.authenticate(HOST_USER, "run-secret"), logins.authenticate(None, None)
    ('host', None)
    """

    def __init__(self, store: Store, extra: dict[str, str] | None = None):
        self.store = store
        self.extra = dict(extra or {})

    def authenticate(self, username: str | None, password: str | None) -> str | None:
        """The role (``host`` or ``device``) of a user whose password is right, else None."""
        if not username or password is None:
            return None
        if username in self.extra:
            return "host" if hmac.compare_digest(self.extra[username].encode(), password.encode()) else None
        known = self.store.identity(username)
        if known is not None and known["revoked_at"] is None and verify_password(password, known["password_hash"]):
            return known["role"]
        return None


def host_login(store: Store) -> str | None:
    """Make sure the host has a broker login; return its new password, or None if it had one.

    The password is returned only when it is created: keep it in a file only the
    host's account can read, and start the host with ``--password-file``.
    """
    known = store.identity(HOST_USER)
    if known is not None and known["revoked_at"] is None:
        return None
    password = secrets.token_urlsafe(24)
    store.add_identity({"name": HOST_USER, "role": "host", "site": None,
                        "password_hash": mosquitto_password_hash(password), "key": None, "created_at": now_iso()})
    return password


def provision(store: Store, name: str, site: str, *, broker_host: str, broker_port: int | None = None,
              role: str = "kiosk", tls: bool = False, **site_config) -> Provisioned:
    """Create device ``name`` at ``site``: a broker login, a signing key, and its site.json.

    Parameters
    ----------
    store : Store
        The host's database, where the identity (password hash and key) is kept.
    name : str
        The device id (``wire.valid_device_id``): also its MQTT user and client id.
    site : str
        Where it stands (a park, a building), for the fleet list.
    broker_host, broker_port : str, int
        The broker the device reaches on the site's network (port 1883, or 8883 with ``tls``).
    role : str
        ``kiosk`` or ``handheld``.
    tls : bool
        The device talks TLS to the broker (``tiesense firmware stage --ca-file`` gives it the CA).
    **site_config
        Further site.json keys (see firmware/config.py), e.g. ``wifi_ssid``.

    Raises
    ------
    ProvisioningError
        A name that is not a device id, the host's own user, or a device already provisioned.

    Examples
    --------
    >>> store = Store(":memory:")
    >>> dev = provision(store, "kiosk-05", "lobby-a", broker_host="10.0.0.2")
    >>> dev.site_config["mqtt_user"], dev.site_config["broker_host"], len(dev.key)
    ('kiosk-05', '10.0.0.2', 64)
    >>> provision(store, "kiosk-05", "lobby-a", broker_host="10.0.0.2")
    Traceback (most recent call last):
    ...
    tiesense.provisioning.ProvisioningError: device 'kiosk-05' is already provisioned (site lobby-a): revoke it first ('tiesense devices revoke kiosk-05') to give it new secrets
    """
    if not wire.valid_device_id(name):
        raise ProvisioningError(f"'{name}' is not a device id: 1-32 characters of a-z, 0-9, '-' and '_', "
                                "starting with a letter or digit")
    if name == HOST_USER:
        raise ProvisioningError(f"'{HOST_USER}' is the host's own login: give the device another name")
    known = store.identity(name)
    if known is not None and known["revoked_at"] is None:
        raise ProvisioningError(f"device '{name}' is already provisioned (site {known['site']}): revoke it first "
                                f"('tiesense devices revoke {name}') to give it new secrets")
    password, key = secrets.token_urlsafe(18), secrets.token_hex(32)
    store.add_identity({"name": name, "role": "device", "site": site, "password_hash": mosquitto_password_hash(password),
                        "key": key, "created_at": now_iso()})
    port = int(broker_port) if broker_port is not None else (8883 if tls else 1883)
    config = {"device": name, "role": role, "broker_host": broker_host, "broker_port": port,
              "mqtt_user": name, "mqtt_password": password, "device_key": key, "site": site,
              "site_key": store.site_key(site)}
    if tls:
        config["broker_tls"] = True
    config.update(site_config)
    return Provisioned(name, site, password, key, config)


def provision_afresh(store: Store, name: str, site: str, **kwargs) -> Provisioned:
    """:func:`provision`, first revoking a login of that name if there is one: new secrets for a
    device that is re-staged from scratch (the demo's and the tests' simulated kiosks)."""
    try:
        revoke(store, name)
    except ProvisioningError:
        pass  # never provisioned, or revoked already
    return provision(store, name, site, **kwargs)


def revoke(store: Store, name: str) -> None:
    """Take device ``name`` out: it can no longer log in once the broker rereads its files.

    Raises
    ------
    ProvisioningError
        No such device, or it was revoked already.
    """
    if name == HOST_USER:
        raise ProvisioningError(f"'{HOST_USER}' is the host's login, not a device")
    if not store.revoke_identity(name):
        known = store.identity(name)
        state = "was revoked already" if known else "was never provisioned"
        raise ProvisioningError(f"device '{name}' {state}; 'tiesense devices list' shows the devices")


def mosquitto_password_file(store: Store) -> str:
    """The text of Mosquitto's ``password_file``: the host and every device not revoked."""
    return "".join(f"{r['name']}:{r['password_hash']}\n" for r in store.identities())


def mosquitto_acl_file() -> str:
    """The text of Mosquitto's ``acl_file`` (the rules in this module's docstring)."""
    p = wire.PREFIX
    return (
        "# tiesense broker rules (written by tiesense; edits are overwritten)\n"
        f"user {HOST_USER}\n"
        f"topic read {p}/+/records\n"
        f"topic read {p}/+/status\n"
        f"topic write {p}/+/ack\n"
        f"topic write {p}/+/cmd\n"
        f"topic readwrite {p}/forms/+\n"
        "\n# every other user is a device whose user name is its device id\n"
        f"pattern write {p}/%u/records\n"
        f"pattern write {p}/%u/status\n"
        f"pattern read {p}/%u/ack\n"
        f"pattern read {p}/%u/cmd\n"
        f"pattern read {p}/forms/+\n"
    )


def write_broker_files(store: Store, folder: str | Path) -> tuple[Path, Path]:
    """Write ``passwords`` and ``acl`` into ``folder`` (readable by their owner only); return their paths.

    Each file is written to a temporary name and renamed, so Mosquitto never reads
    half a file; tell it to reread them (``kill -HUP``, or ``systemctl reload mosquitto``).
    """
    folder = Path(folder)
    return (write_secret(folder / "passwords", mosquitto_password_file(store)),
            write_secret(folder / "acl", mosquitto_acl_file()))


def write_site_config(device: Provisioned, folder: str | Path) -> Path:
    """Write the device's ``site.json`` (its secrets: readable by the owner only) into ``folder``."""
    return write_secret(Path(folder) / "site.json", json.dumps(device.site_config, indent=2, sort_keys=True) + "\n")


def write_host_password(password: str, folder: str | Path) -> Path:
    """Write the host's broker password to ``folder/host-password`` (owner only), for ``serve --password-file``."""
    return write_secret(Path(folder) / "host-password", password + "\n")


def write_secret(path: Path, text: str) -> Path:
    """Write ``text`` readable by its owner only, through a temporary name renamed into place, so no
    reader (Mosquitto, a device's copy) ever sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return path
