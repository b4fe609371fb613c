"""What the use cases need from the adapters (the repositories one transaction hands out)."""

from __future__ import annotations

from docstore_analytics.adapters.repositories import Repositories

Repos = Repositories
