"""How the host reaches a broker: URL, credentials and TLS, applied to a paho client.

A broker is named by a URL, ``mqtt://HOST:PORT`` or ``mqtts://HOST:PORT``
(TLS, port 8883 by default), optionally with a user name
(``mqtts://tiesense-host@broker.park.example``). The password never has to be
typed on a command line, where every user of the machine can read it in the
process list: it comes from ``password``, a ``password_file``, or the
environment variable ``TIESENSE_MQTT_PASSWORD`` (a password in the URL is
accepted, for scripts that have nothing better). TLS takes a CA file (the
park's own CA; the system's trust store when omitted) and, where the broker
requires client certificates, a certificate and key. The same settings come
from the environment: ``TIESENSE_MQTT_CA``, ``TIESENSE_MQTT_CERT``,
``TIESENSE_MQTT_KEY``, ``TIESENSE_MQTT_PASSWORD_FILE``.
"""
from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["BrokerAddress", "parse_broker_url", "PASSWORD_ENV"]

PASSWORD_ENV = "TIESENSE_MQTT_PASSWORD"
_ENV = {"ca_file": "TIESENSE_MQTT_CA", "cert_file": "TIESENSE_MQTT_CERT", "key_file": "TIESENSE_MQTT_KEY",
        "password_file": "TIESENSE_MQTT_PASSWORD_FILE"}
_HINT = "expected mqtt://[USER@]HOST[:PORT] or mqtts://[USER@]HOST[:PORT], e.g. mqtt://127.0.0.1:1883"
_DEFAULT_PORT = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True)
class BrokerAddress:
    """A broker and how to log in to it.

    Examples
    --------
    >>> a = BrokerAddress.parse("mqtts://tiesense-host@broker.park.example", password="s3cret")
    >>> a.host, a.port, a.tls, a.username, a.url
    ('broker.park.example', 8883, True, 'tiesense-host', 'mqtts://tiesense-host@broker.park.example:8883')
    >>> "s3cret" in repr(a)
    False
    """

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def __repr__(self) -> str:  # never print the password
        return f"BrokerAddress({self.url!r}, ca_file={self.ca_file!r}, cert_file={self.cert_file!r})"

    @property
    def url(self) -> str:
        """The URL without the password (safe to print)."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"

    @classmethod
    def parse(cls, url: str, *, password: str | None = None, password_file: str | Path | None = None,
              ca_file: str | Path | None = None, cert_file: str | Path | None = None,
              key_file: str | Path | None = None, environ: dict | None = None) -> "BrokerAddress":
        """Read a broker URL and the credentials that go with it.

        Arguments win over the environment (``TIESENSE_MQTT_*``); a password
        argument or file wins over one in the URL.

        Raises
        ------
        ValueError
            A URL that is not ``mqtt://`` or ``mqtts://`` with a host, a bad
            port, a path or query, a password file that cannot be read, TLS
            files given for a plain ``mqtt://`` URL, or a certificate without
            its key.

        Examples
        --------
        >>> BrokerAddress.parse("mqtt://127.0.0.1:1884", environ={}).url
        'mqtt://127.0.0.1:1884'
        >>> BrokerAddress.parse("http://x", environ={})
        Traceback (most recent call last):
        ...
        ValueError: bad broker URL 'http://x': scheme 'http' is not supported (expected mqtt://[USER@]HOST[:PORT] or mqtts://[USER@]HOST[:PORT], e.g. mqtt://127.0.0.1:1883)
        """
        env = os.environ if environ is None else environ
        if not isinstance(url, str) or "://" not in url:
            raise ValueError(f"bad broker URL {url!r}: {_HINT}")
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORT:
            raise ValueError(f"bad broker URL {url!r}: scheme {parts.scheme!r} is not supported ({_HINT})")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"bad broker URL {url!r}: only a user, a host and a port are allowed ({_HINT})")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"bad broker URL {url!r}: the port is not a number from 1 to 65535 ({_HINT})") from None
        if not parts.hostname:
            raise ValueError(f"bad broker URL {url!r}: no host ({_HINT})")
        if port == 0:
            raise ValueError(f"bad broker URL {url!r}: port 0 ({_HINT})")
        tls = parts.scheme == "mqtts"
        files = {"ca_file": ca_file, "cert_file": cert_file, "key_file": key_file, "password_file": password_file}
        for k, var in _ENV.items():
            if files[k] is None and env.get(var):
                files[k] = env[var]
        secret = password
        if secret is None and files["password_file"] is not None:
            try:
                secret = Path(files["password_file"]).read_text(encoding="utf-8").strip()
            except OSError as e:
                raise ValueError(f"cannot read the broker password file {files['password_file']}: "
                                 f"{e.strerror or e}") from None
        if secret is None and env.get(PASSWORD_ENV):
            secret = env[PASSWORD_ENV]
        if secret is None and parts.password is not None:
            secret = unquote(parts.password)
        username = unquote(parts.username) if parts.username else None
        if secret is not None and username is None:
            raise ValueError(f"a broker password was given but no user name: put it in the URL "
                             f"(mqtt{'s' if tls else ''}://USER@{parts.hostname}...)")
        if not tls and any(files[k] for k in ("ca_file", "cert_file", "key_file")):
            raise ValueError(f"CA or client certificate files were given for {url!r}, which is not TLS: "
                             "use mqtts://")
        if bool(files["cert_file"]) != bool(files["key_file"]):
            raise ValueError("a client certificate needs its key, and a key its certificate: give both")
        return cls(parts.hostname, port or _DEFAULT_PORT[parts.scheme], tls, username, secret,
                   *(str(files[k]) if files[k] else None for k in ("ca_file", "cert_file", "key_file")))

    def with_password(self, password: str | None) -> "BrokerAddress":
        """The same address with another password."""
        return replace(self, password=password)

    def configure(self, client) -> None:
        """Give a paho ``Client`` these credentials and TLS settings (before ``connect``).

        Raises
        ------
        ValueError
            A CA, certificate or key file that cannot be loaded, with the file named.
        """
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        if not self.tls:
            return
        try:
            context = ssl.create_default_context(cafile=self.ca_file)
            if self.cert_file:
                context.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as e:
            which = ", ".join(f for f in (self.ca_file, self.cert_file, self.key_file) if f) or "the system CA store"
            raise ValueError(f"cannot load the TLS files ({which}): {getattr(e, 'strerror', None) or e}") from None
        client.tls_set_context(context)


def parse_broker_url(url: str) -> tuple[str, int]:
    """``(host, port)`` of a broker URL (``mqtt://`` or ``mqtts://``, user part allowed).

    Examples
    --------
    >>> parse_broker_url("mqtt://127.0.0.1:1884")
    ('127.0.0.1', 1884)
    >>> parse_broker_url("mqtt://broker.local")
    ('broker.local', 1883)
    >>> parse_broker_url("mqtts://host@broker.local")
    ('broker.local', 8883)
    """
    a = BrokerAddress.parse(url, environ={})
    return a.host, a.port
