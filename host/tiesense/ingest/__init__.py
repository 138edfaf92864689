"""Ingest: received messages to validated, deduplicated rows and acknowledgements.

:mod:`tiesense.ingest.core` holds every rule and knows no transport;
:mod:`tiesense.ingest.mqtt` is the MQTT subscriber over it. Another transport
(a USB serial offload) is another thin adapter over :class:`IngestCore`.
"""
from .core import AckMessage, BatchReport, IngestCore, Message, Prepared
from .mqtt import Ingest, IngestError

__all__ = ["IngestCore", "Message", "AckMessage", "Prepared", "BatchReport", "Ingest", "IngestError"]
