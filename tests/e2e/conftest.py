"""The e2e tests run on the shared system of docstore_devplatform.e2e (`system`, `region_b`, `api`).

Only the plain helpers are re-exported here, so the test modules keep importing them from
`.conftest`; the fixtures stay in docstore_devplatform.e2e alone (imported here, they would become a
second session fixture of this folder and start a second system).
"""

from __future__ import annotations

from docstore_devplatform.e2e import (  # noqa: F401  (re-exported for the test modules)
    FREE_CAP_BYTES,
    PASSWORD,
    REGION_A,
    REGION_B,
    SYSTEM_ENV,
    System,
    User,
    mails_to,
    sign_up,
    upload,
)
from docstore_devplatform.testing import eventually  # noqa: F401  (shared by the tests here)

__all__ = [
    "FREE_CAP_BYTES",
    "PASSWORD",
    "REGION_A",
    "REGION_B",
    "SYSTEM_ENV",
    "System",
    "User",
    "mails_to",
    "eventually",
    "sign_up",
    "upload",
]
