"""Every table and index of the host database, as numbered migrations (``PRAGMA user_version``).

A database's ``user_version`` is the number of migrations applied to it.
:func:`migrate`, run by :class:`~tiesense.store.Store` on open, applies the
missing ones in order, each in its own ``BEGIN IMMEDIATE`` transaction that
also sets ``user_version``: a fresh file gets every migration (hence the
latest schema), a file of an older release the ones it lacks, and a failure
leaves the file at the last migration that committed. Two processes opening
one file at once are safe: each re-reads the version once it holds the write
lock and skips a migration the other applied. A file whose version is above
:data:`VERSION` was written by a newer tiesense and is refused
(:class:`SchemaTooNew`) before anything is written.

Migrations are history: never edit one that was released; add the next.
Their SQL is written out, not generated, so that it cannot drift.

Tables
------
records
    One row per survey record, keyed by its ODK-style ``instance_id``;
    ``digest`` is the SHA-256 (hex) of ``wire.encode_record(record)``.
conflicts
    A record whose id is already stored with other content, with both digests;
    the first version stays in ``records``.
quarantine
    Everything received that the host refuses: topic, device if known, reason,
    ``raw`` (the first ``quarantine_keep_bytes`` of the payload), ``raw_length``
    and ``raw_digest`` (length and SHA-256 of the *whole* payload), position
    ``item`` of a refused record in its message (-1: the whole message),
    ``instance_id``, ``seq``, ``times`` received and ``last_received_at``.
devices
    The last status each device reported (one column per ``wire.STATUS_FIELDS``).
forms
    Every form id + version published, immutable once published.
tie_estimates
    One row per (u, v, estimator), ``u < v`` roster codes: value, low, high,
    observations, confirmed, disagreement, updated_at.
org_measures, cluster_measures
    Node measures per (org, measure) and cluster-level measures per measure,
    with their intervals.
identities
    Who may log in to the broker: ``name`` (the MQTT user; a device's id),
    ``role`` (``host`` or ``device``), ``site``, ``password_hash`` (Mosquitto's
    ``$7$`` PBKDF2-SHA512 form, never the password), ``key`` (a device's secret
    for signing records, hex), ``created_at`` and ``revoked_at``.
clock_anchors
    Per device and boot, ``offset_s``: epoch seconds at that boot's uptime 0,
    from a status (``synced`` 1: the device's synced clock said so; 0: the
    host's clock when the status arrived). A version 2 record whose clock was
    unsynced gets ``start`` = offset + its ``uptime_s`` and ``clock`` =
    ``corrected``; one without an anchor keeps the device's claim and
    ``clock`` = ``unsynced``.
site_keys
    The secret (hex) each site's devices check forms against; it travels only
    in the site.json of that site's devices.

Records of contract version 2 also fill ``wire`` (2), ``clock`` (``ntp``,
``host``, ``unsynced`` or ``corrected``), ``boot``, ``uptime_s`` and
``duration_s``; version 1 rows have ``wire`` 1 and NULL there.

roster_versions, organisations
    The roster: each import of the organisations list is a new ``version``
    (when, from what source, digest of its rows, how many); ``organisations``
    holds every version's rows (``code`` is the roster code interviews name,
    ``name``, ``actor_type``, ``region``, ``sector``, ``size``). The current
    roster is the highest version.
web_users, api_tokens, web_sessions
    Who may use the web side: users who log in to the pages (``password_hash``
    is scrypt, never the password), API tokens (``token_hash`` is the SHA-256
    of the token, shown once when created; one active token per ``name``) and
    login sessions (``session_hash``, SHA-256 of the cookie's value, with its
    expiry). ``role`` is ``admin``, ``analyst`` or ``viewer``.
visits, respondents, tie_reports, alter_pairs
    Analysable rows: each record of the instruments flattened into one row per
    visit, per respondent (also one who named nobody), per reported tie and
    per pair of named partners, with form, version and wave, written in the
    transaction that stores the record (:mod:`~tiesense.store.rows` has the columns).
"""
from __future__ import annotations

import sqlite3
from typing import NamedTuple

from .connection import transaction

__all__ = ["Migration", "MIGRATIONS", "VERSION", "TABLES", "SchemaTooNew", "version", "refuse_newer", "migrate"]


class SchemaTooNew(RuntimeError):
    """The database was written by a newer tiesense than this one."""


class Migration(NamedTuple):
    """One step of the schema: ``statements`` take a database from ``version - 1`` to ``version``."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the tables of tiesense 0.1.0 (IF NOT EXISTS: a 0.1.0 file already has the ingest tables, "
                 "and the estimate tables once estimates were written)", (
        """CREATE TABLE IF NOT EXISTS "records" (
           "instance_id" TEXT PRIMARY KEY,
           "device" TEXT NOT NULL,
           "seq" INTEGER NOT NULL,
           "form" TEXT NOT NULL,
           "form_version" TEXT NOT NULL,
           "start" TEXT NOT NULL,
           "end" TEXT NOT NULL,
           "answers" TEXT NOT NULL,
           "digest" TEXT NOT NULL,
           "received_at" TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS "conflicts" (
           "instance_id" TEXT,
           "digest" TEXT,
           "stored_digest" TEXT NOT NULL,
           "device" TEXT NOT NULL,
           "seq" INTEGER NOT NULL,
           "record" TEXT NOT NULL,
           "received_at" TEXT NOT NULL,
           PRIMARY KEY ("instance_id", "digest")
        )""",
        """CREATE TABLE IF NOT EXISTS "quarantine" (
           "id" INTEGER PRIMARY KEY,
           "received_at" TEXT NOT NULL,
           "topic" TEXT NOT NULL,
           "device" TEXT,
           "reason" TEXT NOT NULL,
           "raw" BLOB NOT NULL,
           "raw_digest" TEXT NOT NULL,
           "item" INTEGER NOT NULL DEFAULT -1,
           "instance_id" TEXT,
           "seq" INTEGER,
           "times" INTEGER NOT NULL DEFAULT 1,
           "last_received_at" TEXT
        )""",
        """CREATE TABLE IF NOT EXISTS "devices" (
           "device" TEXT PRIMARY KEY,
           "online" INTEGER,
           "fw" TEXT,
           "role" TEXT,
           "queue" INTEGER,
           "heap_free" INTEGER,
           "battery_mv" INTEGER,
           "uptime_s" INTEGER,
           "time" TEXT,
           "approaches" INTEGER,
           "abandoned" INTEGER,
           "last_seen" TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS "forms" (
           "form_id" TEXT,
           "version" TEXT,
           "spec" TEXT NOT NULL,
           "digest" TEXT NOT NULL,
           "published_at" TEXT NOT NULL,
           PRIMARY KEY ("form_id", "version")
        )""",
        """CREATE TABLE IF NOT EXISTS "tie_estimates" (
           "u" INTEGER,
           "v" INTEGER,
           "estimator" TEXT,
           "value" REAL,
           "low" REAL,
           "high" REAL,
           "observations" INTEGER,
           "confirmed" INTEGER,
           "disagreement" REAL,
           "updated_at" TEXT,
           PRIMARY KEY ("u", "v", "estimator")
        )""",
        """CREATE TABLE IF NOT EXISTS "org_measures" (
           "org" INTEGER,
           "measure" TEXT,
           "value" REAL,
           "low" REAL,
           "high" REAL,
           "updated_at" TEXT,
           PRIMARY KEY ("org", "measure")
        )""",
        """CREATE TABLE IF NOT EXISTS "cluster_measures" (
           "measure" TEXT PRIMARY KEY,
           "value" REAL,
           "low" REAL,
           "high" REAL,
           "updated_at" TEXT
        )""",
        'CREATE INDEX IF NOT EXISTS "idx_records_device_seq" ON "records" ("device", "seq")',
        'CREATE UNIQUE INDEX IF NOT EXISTS "idx_quarantine_topic_raw_digest_item" '
        'ON "quarantine" ("topic", "raw_digest", "item")',
    )),
    Migration(2, "quarantine keeps a bounded prefix of the payload in raw; raw_length is the whole length "
                 "(raw_digest was always the SHA-256 of the whole payload)", (
        'ALTER TABLE "quarantine" ADD COLUMN "raw_length" INTEGER',
        'UPDATE "quarantine" SET "raw_length" = length("raw")',
    )),
    Migration(3, "identities: broker logins of the host and of each provisioned device, with the device's key", (
        """CREATE TABLE IF NOT EXISTS "identities" (
           "name" TEXT PRIMARY KEY,
           "role" TEXT NOT NULL,
           "site" TEXT,
           "password_hash" TEXT NOT NULL,
           "key" TEXT,
           "created_at" TEXT NOT NULL,
           "revoked_at" TEXT
        )""",
    )),
    Migration(4, "wire contract 2: a record's contract version and clock quality; the status fields of version 2; "
                 "clock anchors that correct unsynced records; site keys that sign forms", (
        'ALTER TABLE "records" ADD COLUMN "wire" INTEGER NOT NULL DEFAULT 1',
        'ALTER TABLE "records" ADD COLUMN "clock" TEXT',
        'ALTER TABLE "records" ADD COLUMN "boot" INTEGER',
        'ALTER TABLE "records" ADD COLUMN "uptime_s" INTEGER',
        'ALTER TABLE "records" ADD COLUMN "duration_s" INTEGER',
        'CREATE INDEX "idx_records_unsynced" ON "records" ("device", "boot") WHERE "clock" = \'unsynced\'',
        'ALTER TABLE "devices" ADD COLUMN "boot" INTEGER',
        'ALTER TABLE "devices" ADD COLUMN "clock" INTEGER',
        'ALTER TABLE "devices" ADD COLUMN "nonce" TEXT',
        'ALTER TABLE "devices" ADD COLUMN "flash_free" INTEGER',
        'ALTER TABLE "devices" ADD COLUMN "storage_full" INTEGER',
        'ALTER TABLE "devices" ADD COLUMN "refused" INTEGER',
        'ALTER TABLE "devices" ADD COLUMN "errors" INTEGER',
        'ALTER TABLE "devices" ADD COLUMN "last_error" TEXT',
        """CREATE TABLE "clock_anchors" (
           "device" TEXT,
           "boot" INTEGER,
           "offset_s" INTEGER NOT NULL,
           "synced" INTEGER NOT NULL,
           "at" TEXT NOT NULL,
           PRIMARY KEY ("device", "boot")
        )""",
        """CREATE TABLE "site_keys" (
           "site" TEXT PRIMARY KEY,
           "key" TEXT NOT NULL,
           "created_at" TEXT NOT NULL
        )""",
    )),
    Migration(5, "the web side: a versioned roster of organisations, web users, API tokens and login sessions", (
        """CREATE TABLE IF NOT EXISTS "roster_versions" (
           "version" INTEGER PRIMARY KEY,
           "imported_at" TEXT NOT NULL,
           "source" TEXT,
           "digest" TEXT NOT NULL,
           "organisations" INTEGER NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS "organisations" (
           "version" INTEGER NOT NULL REFERENCES "roster_versions" ("version"),
           "code" INTEGER NOT NULL,
           "name" TEXT NOT NULL,
           "actor_type" TEXT NOT NULL,
           "region" TEXT,
           "sector" TEXT,
           "size" TEXT,
           PRIMARY KEY ("version", "code")
        )""",
        """CREATE TABLE IF NOT EXISTS "web_users" (
           "name" TEXT PRIMARY KEY,
           "role" TEXT NOT NULL,
           "password_hash" TEXT NOT NULL,
           "created_at" TEXT NOT NULL,
           "disabled_at" TEXT
        )""",
        """CREATE TABLE IF NOT EXISTS "api_tokens" (
           "id" INTEGER PRIMARY KEY,
           "name" TEXT NOT NULL,
           "role" TEXT NOT NULL,
           "token_hash" TEXT NOT NULL UNIQUE,
           "created_at" TEXT NOT NULL,
           "revoked_at" TEXT
        )""",
        'CREATE UNIQUE INDEX IF NOT EXISTS "idx_api_tokens_active_name" ON "api_tokens" ("name") '
        'WHERE "revoked_at" IS NULL',
        """CREATE TABLE IF NOT EXISTS "web_sessions" (
           "session_hash" TEXT PRIMARY KEY,
           "user" TEXT NOT NULL,
           "created_at" TEXT NOT NULL,
           "expires_at" TEXT NOT NULL
        )""",
        'CREATE INDEX IF NOT EXISTS "idx_records_form_end" ON "records" ("form", "end")',
    )),
    Migration(6, "analysable rows: visits, respondents, tie_reports and alter_pairs, written with each record "
                 "(store.rows); the records already stored of tp_visit and fi_partner are flattened here "
                 "(fi_interview is new with this migration, so none of its records predate it)", (
        """CREATE TABLE "visits" (
           "instance_id" TEXT PRIMARY KEY REFERENCES "records" ("instance_id"),
           "device" TEXT NOT NULL,
           "form" TEXT NOT NULL,
           "form_version" TEXT NOT NULL,
           "wave" TEXT,
           "end" TEXT NOT NULL,
           "facility" TEXT,
           "visitor_org" INTEGER,
           "visitor_type" TEXT,
           "purpose" TEXT,
           "met" TEXT,
           "met_not_listed" INTEGER,
           "met_nobody" INTEGER,
           "new_contact" TEXT,
           "satisfaction" INTEGER
        )""",
        """CREATE TABLE "respondents" (
           "instance_id" TEXT PRIMARY KEY REFERENCES "records" ("instance_id"),
           "device" TEXT NOT NULL,
           "form" TEXT NOT NULL,
           "form_version" TEXT NOT NULL,
           "wave" TEXT,
           "end" TEXT NOT NULL,
           "consent" TEXT,
           "period" TEXT,
           "respondent_org" INTEGER,
           "respondent_name" TEXT,
           "respondent_type" TEXT,
           "size_band" TEXT,
           "sector" TEXT,
           "rd_activity" TEXT,
           "named" INTEGER
        )""",
        """CREATE TABLE "tie_reports" (
           "instance_id" TEXT NOT NULL REFERENCES "records" ("instance_id"),
           "device" TEXT NOT NULL,
           "form" TEXT NOT NULL,
           "form_version" TEXT NOT NULL,
           "wave" TEXT,
           "end" TEXT NOT NULL,
           "pass" INTEGER NOT NULL,
           "respondent_org" INTEGER,
           "partner_org" INTEGER,
           "partner_name" TEXT,
           "partner_type" TEXT,
           "tie_types" TEXT,
           "multiplexity" INTEGER,
           "frequency" INTEGER,
           "since_year" INTEGER,
           "formality" TEXT,
           "channel" TEXT,
           "closeness" INTEGER,
           "trust" INTEGER,
           "initiated" TEXT,
           "knowledge_flow" TEXT,
           "importance" INTEGER,
           "scope" TEXT,
           "reciprocity" TEXT,
           PRIMARY KEY ("instance_id", "pass")
        )""",
        """CREATE TABLE "alter_pairs" (
           "instance_id" TEXT NOT NULL REFERENCES "records" ("instance_id"),
           "device" TEXT NOT NULL,
           "form" TEXT NOT NULL,
           "form_version" TEXT NOT NULL,
           "wave" TEXT,
           "end" TEXT NOT NULL,
           "pass_a" INTEGER NOT NULL,
           "pass_b" INTEGER NOT NULL,
           "respondent_org" INTEGER,
           "org_a" INTEGER,
           "name_a" TEXT,
           "org_b" INTEGER,
           "name_b" TEXT,
           "tied" INTEGER,
           PRIMARY KEY ("instance_id", "pass_a", "pass_b")
        )""",
        'CREATE INDEX "idx_tie_reports_wave_orgs" ON "tie_reports" ("wave", "respondent_org", "partner_org")',
        'CREATE INDEX "idx_respondents_wave_org" ON "respondents" ("wave", "respondent_org")',
        # The backfill: each answer of a record typed once (txt: a text answer; num: an integer, or a text
        # of at most 18 digits, as roster codes and ordinal choices are), then one column per question.
        """INSERT OR IGNORE INTO "visits" ("instance_id", "device", "form", "form_version", "wave", "end",
             "facility", "visitor_org", "visitor_type", "purpose", "met", "met_not_listed", "met_nobody",
             "new_contact", "satisfaction")
           WITH a AS (
             SELECT r.instance_id, j.key,
                    CASE j.type WHEN 'text' THEN j.value END AS txt,
                    CASE j.type WHEN 'integer' THEN j.value
                                WHEN 'text' THEN CASE WHEN j.value != '' AND j.value NOT GLOB '*[^0-9]*'
                                                       AND length(j.value) <= 18 THEN CAST(j.value AS INTEGER) END
                    END AS num
             FROM "records" AS r, json_each(r.answers) AS j WHERE r.form = 'tp_visit')
           SELECT r.instance_id, r.device, r.form, r.form_version,
                  coalesce(CAST(json_extract(r.answers, '$.wave') AS TEXT), CAST(json_extract(f.spec, '$.wave') AS TEXT)),
                  r."end",
                  max(CASE a.key WHEN 'facility' THEN a.txt END),
                  max(CASE a.key WHEN 'visitor_org' THEN a.num END),
                  coalesce(max(CASE a.key WHEN 'visitor_type' THEN a.txt END), max(CASE a.key WHEN 'org_type' THEN a.txt END)),
                  max(CASE a.key WHEN 'purpose' THEN a.txt END),
                  CASE json_type(r.answers, '$.met') WHEN 'array' THEN (
                    SELECT json_group_array(CAST(m.value AS INTEGER)) FROM json_each(r.answers, '$.met') AS m
                    WHERE m.type = 'text' AND m.value != '' AND m.value NOT GLOB '*[^0-9]*' AND length(m.value) <= 18) END,
                  CASE json_type(r.answers, '$.met') WHEN 'array' THEN EXISTS (
                    SELECT 1 FROM json_each(r.answers, '$.met') AS m WHERE m.type = 'text' AND m.value = 'not_listed') END,
                  CASE json_type(r.answers, '$.met') WHEN 'array' THEN EXISTS (
                    SELECT 1 FROM json_each(r.answers, '$.met') AS m WHERE m.type = 'text' AND m.value = 'nobody') END,
                  max(CASE a.key WHEN 'new_contact' THEN a.txt END),
                  max(CASE a.key WHEN 'satisfaction' THEN a.num END)
           FROM "records" AS r
           LEFT JOIN "forms" AS f ON f.form_id = r.form AND f.version = r.form_version
           LEFT JOIN a ON a.instance_id = r.instance_id
           WHERE r.form = 'tp_visit'
           GROUP BY r.instance_id""",
        """INSERT OR IGNORE INTO "respondents" ("instance_id", "device", "form", "form_version", "wave", "end",
             "respondent_org", "named")
           SELECT r.instance_id, r.device, r.form, r.form_version,
                  coalesce(CAST(json_extract(r.answers, '$.wave') AS TEXT), CAST(json_extract(f.spec, '$.wave') AS TEXT)),
                  r."end",
                  CASE json_type(r.answers, '$.respondent_org')
                    WHEN 'integer' THEN json_extract(r.answers, '$.respondent_org')
                    WHEN 'text' THEN CASE WHEN json_extract(r.answers, '$.respondent_org') != ''
                                           AND json_extract(r.answers, '$.respondent_org') NOT GLOB '*[^0-9]*'
                                           AND length(json_extract(r.answers, '$.respondent_org')) <= 18
                                          THEN CAST(json_extract(r.answers, '$.respondent_org') AS INTEGER) END
                  END,
                  1
           FROM "records" AS r
           LEFT JOIN "forms" AS f ON f.form_id = r.form AND f.version = r.form_version
           WHERE r.form = 'fi_partner'""",
        """INSERT OR IGNORE INTO "tie_reports" ("instance_id", "device", "form", "form_version", "wave", "end",
             "pass", "respondent_org", "partner_org", "partner_type", "tie_types", "multiplexity", "frequency",
             "since_year", "formality", "channel", "closeness", "trust", "initiated", "knowledge_flow", "importance",
             "scope", "reciprocity")
           WITH a AS (
             SELECT r.instance_id, j.key,
                    CASE j.type WHEN 'text' THEN j.value END AS txt,
                    CASE j.type WHEN 'integer' THEN j.value
                                WHEN 'text' THEN CASE WHEN j.value != '' AND j.value NOT GLOB '*[^0-9]*'
                                                       AND length(j.value) <= 18 THEN CAST(j.value AS INTEGER) END
                    END AS num
             FROM "records" AS r, json_each(r.answers) AS j WHERE r.form = 'fi_partner')
           SELECT r.instance_id, r.device, r.form, r.form_version,
                  coalesce(CAST(json_extract(r.answers, '$.wave') AS TEXT), CAST(json_extract(f.spec, '$.wave') AS TEXT)),
                  r."end",
                  1,
                  max(CASE a.key WHEN 'respondent_org' THEN a.num END),
                  max(CASE a.key WHEN 'partner_org' THEN a.num END),
                  max(CASE a.key WHEN 'partner_type' THEN a.txt END),
                  CASE json_type(r.answers, '$.tie_types') WHEN 'array' THEN (
                    SELECT json_group_array(t.value) FROM json_each(r.answers, '$.tie_types') AS t
                    WHERE t.type = 'text') END,
                  CASE json_type(r.answers, '$.tie_types') WHEN 'array' THEN (
                    SELECT count(*) FROM json_each(r.answers, '$.tie_types') AS t WHERE t.type = 'text') END,
                  max(CASE a.key WHEN 'frequency' THEN a.num END),
                  max(CASE a.key WHEN 'since_year' THEN a.num END),
                  max(CASE a.key WHEN 'formality' THEN a.txt END),
                  max(CASE a.key WHEN 'channel' THEN a.txt END),
                  max(CASE a.key WHEN 'closeness' THEN a.num END),
                  max(CASE a.key WHEN 'trust' THEN a.num END),
                  max(CASE a.key WHEN 'initiated' THEN a.txt END),
                  max(CASE a.key WHEN 'knowledge_flow' THEN a.txt END),
                  max(CASE a.key WHEN 'importance' THEN a.num END),
                  max(CASE a.key WHEN 'scope' THEN a.txt END),
                  max(CASE a.key WHEN 'reciprocity' THEN a.txt END)
           FROM "records" AS r
           LEFT JOIN "forms" AS f ON f.form_id = r.form AND f.version = r.form_version
           LEFT JOIN a ON a.instance_id = r.instance_id
           WHERE r.form = 'fi_partner'
           GROUP BY r.instance_id""",
    )),
)

#: The schema version this tiesense writes: the number of migrations.
VERSION = len(MIGRATIONS)

#: Every table, in the order of the docstring.
TABLES = ("records", "conflicts", "quarantine", "devices", "forms", "tie_estimates", "org_measures",
          "cluster_measures", "identities", "clock_anchors", "site_keys", "roster_versions", "organisations",
          "web_users", "api_tokens", "web_sessions", "visits", "respondents", "tie_reports", "alter_pairs")


def version(conn: sqlite3.Connection) -> int:
    """The file's schema version (``PRAGMA user_version``; 0 for a new file or one of tiesense 0.1.0)."""
    return conn.execute("PRAGMA user_version").fetchone()[0]


def refuse_newer(conn: sqlite3.Connection, path: str = "") -> None:
    """Raise :class:`SchemaTooNew` if the file was written by a newer tiesense; read only."""
    _refuse_newer(version(conn), VERSION, path)


def _refuse_newer(v: int, latest: int, path: str) -> None:
    if v > latest:
        raise SchemaTooNew(
            f"the database {path} was written by a newer tiesense (schema version {v}; this tiesense "
            f"knows versions up to {latest}): upgrade tiesense to open it")


def migrate(conn: sqlite3.Connection, path: str = "") -> int:
    """Bring the file to :data:`VERSION`, one transaction per migration; return the version it had.

    Raises
    ------
    SchemaTooNew
        The file's version is above :data:`VERSION`; nothing was written.

    Examples
    --------
    >>> from tiesense.store.connection import connect
    >>> conn = connect(":memory:")
    >>> migrate(conn), version(conn) == VERSION
    (0, True)
    >>> migrate(conn) == VERSION   # already there: nothing to do
    True
    """
    latest, migrations = VERSION, MIGRATIONS
    found = version(conn)
    _refuse_newer(found, latest, path)
    for m in (m for m in migrations if m.version > found):
        with transaction(conn):
            current = version(conn)  # another process may have applied it while we waited for the lock
            _refuse_newer(current, latest, path)
            if current >= m.version:
                continue
            for sql in m.statements:
                conn.execute(sql)
            conn.execute(f"PRAGMA user_version = {int(m.version)}")
    return found
