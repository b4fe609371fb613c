"""Request and response bodies of the accounts service's routes."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from docstore_kit.text import Text

_UNSAFE_IN_ID = re.compile(r"[\x00-\x1f\x7f-\x9f/\\]")
MAX_ID = 200


def safe_id(value: str) -> str:
    """An id taken from a path: no control characters (C0, DEL, C1) and no slashes. DocStore's ids never
    hold them; refusing them up front (422) keeps them out of queries, logs and upstream URLs."""
    if _UNSAFE_IN_ID.search(value):
        raise ValueError("must not contain control characters or slashes")
    return value


AccountIdPath = Annotated[
    str,
    Path(min_length=1, max_length=MAX_ID, description="An account id, as DocStore returned it"),
    AfterValidator(safe_id),
]


class SignupIn(BaseModel):
    username: Text = Field(min_length=1, max_length=64, examples=["ada"])
    email: Text = Field(min_length=3, max_length=254, examples=["ada@example.com"])
    password: Text = Field(
        min_length=1,
        max_length=1024,
        description="8 to 1024 characters (Unicode code points, spaces count: a passphrase of a few uncommon "
        "words is good). Common, guessable passwords and ones built from the username or e-mail are "
        "refused with 422 and a message saying why.",
    )
    plan: Literal["free", "premium"] = "free"


class AccountOut(BaseModel):
    account_id: str
    username: str
    role: str = "user"
    email: str
    plan: str
    home_region: str
    status: str = Field(
        "active",
        description="`active`, `deleted`, or `username_conflict` (the name went to a "
        "simultaneous sign-up in another region)",
    )
    email_verified: bool = Field(
        True, description="false until the sign-up's (or a resent) verification link is followed"
    )


class ReplicaIn(BaseModel):
    """Another region's account, as replication sends it: no password, hash or e-mail."""

    username: Text = Field(min_length=1, max_length=64)
    home_region: Text = Field(min_length=1, max_length=64)
    plan: Literal["free", "premium"] = "free"
    status: Literal["active", "deleted", "username_conflict"] = "active"
    version: int = Field(ge=1, le=2**63 - 1)
    oidc_identities: list[Annotated[Text, Field(pattern=r"^[0-9a-f]{64}$")]] = Field(
        default_factory=list,
        max_length=100,
        description="The ids of the OpenID identities linked to the account (digests; a sign-in with one is sent home)",
    )


class ReplicaOut(BaseModel):
    account_id: str
    applied: bool = Field(description="false: this version (or a newer one) was already held")


class CredentialsIn(BaseModel):
    username: Text = Field(min_length=1, max_length=64)
    password: Text = Field(min_length=1, max_length=1024)


class PlanIn(BaseModel):
    plan: Literal["free", "premium"]


class EmailIn(BaseModel):
    """An address asked about by another service of the region (in a body: access logs keep paths)."""

    model_config = ConfigDict(extra="forbid")
    email: Text = Field(min_length=3, max_length=254)


class PlanOfferOut(BaseModel):
    plan: Literal["free", "premium"]
    name: str = Field(description="The plan's name as people read it")
    monthly_price: str = Field(description="What the plan costs a month, two decimals (`4.99`; Free `0.00`)")
    currency: str = Field(description="ISO 4217 code of the price (`EUR`)")


class PlansOut(BaseModel):
    plans: list[PlanOfferOut]


class InternalPlanOut(BaseModel):
    plan: str


class InternalAccountOut(BaseModel):
    """What another service of the region may know of an account (metadata's `Owners`, when its
    projection does not know the account yet): no e-mail, no secret."""

    id: str
    username: str
    plan: str
    home_region: str
    email_verified: bool
    status: str


UsernamePath = Annotated[
    str,
    Path(min_length=1, max_length=64, description="A username"),
    AfterValidator(safe_id),
]
