"""The link collections that move out of metadata's database into this service's (issue 36).
`python -m docstore_links.migrate` copies them with `docstore_kit.collection_copy`: a rerun leaves
an exact copy, indexes included, and the source is only read."""

from __future__ import annotations

LINK_COLLECTIONS = ("share_links", "link_policies")
"""The links' collections, named as metadata named them (and as `adapters/repository.py` does)."""
