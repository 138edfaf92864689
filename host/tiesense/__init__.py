"""tiesense: field survey and sensing kit for innovation clusters.

The host side: MQTT ingest into SQLite, forms, tie-strength estimators.
The wire contract shared with devices is :mod:`tiesense.wire`.
"""

__version__ = "0.2.0"
