"""The wIMPU Registrar (TR 23.701 5.2.2.3.1) and its W6/W7 API (5.2.2.4).

"The wIMPU Registrar holds registration information for individual IMPUs allocated to
WICs." 3GPP never standardised W6 and W7; the HTTP/JSON API of this package is this
project's proposal (``openapi.json``).

Modules::

    model    typed records, validation and the error tree (pure)
    store    durable storage (one model); the clock is an argument (sans-I/O style)
    backends where the store lives: an SQLite file, or a shared PostgreSQL database
    service  the aiohttp service carrying W6 and W7
"""

from .model import (
    AllocatedBy,
    ConflictError,
    Contact,
    ContactWrite,
    Entry,
    NotFoundError,
    Outcome,
    PreconditionFailed,
    RegistrarError,
    RegistrationStatus,
    SchemaVersionError,
    StoreUnavailable,
    SweepResult,
    ValidationError,
)
from .service import RegistrarService
from .store import SCHEMA_VERSION, Store

__all__ = [
    "SCHEMA_VERSION",
    "AllocatedBy",
    "ConflictError",
    "Contact",
    "ContactWrite",
    "Entry",
    "NotFoundError",
    "PreconditionFailed",
    "Outcome",
    "RegistrarError",
    "RegistrarService",
    "RegistrationStatus",
    "SchemaVersionError",
    "Store",
    "StoreUnavailable",
    "SweepResult",
    "ValidationError",
]
