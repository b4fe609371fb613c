"""`bootstrap.Services` gives the routes all they read (`api.deps.ApiServices`)."""

from __future__ import annotations

import dataclasses

from docstore_metadata.api.deps import ApiServices
from docstore_metadata.bootstrap import Services


def test_services_provide_what_the_api_reads() -> None:
    fields = {field.name for field in dataclasses.fields(Services)}
    wanted = {name for name in dir(ApiServices) if not name.startswith("_")}
    assert wanted <= fields, wanted - fields
    # mypy checks the types: a Services is an ApiServices.
    _: type[ApiServices] = Services
