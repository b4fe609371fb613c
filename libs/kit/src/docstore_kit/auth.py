"""The caller's account, as the gateway vouches for it.

The gateway authenticates the bearer token and forwards the account id in
`X-Account-Id`; services sit behind it on the internal network and trust that header.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, status

ACCOUNT_HEADER = "X-Account-Id"
ROLE_HEADER = "X-Account-Role"


async def require_account_id(x_account_id: Annotated[str | None, Header()] = None) -> str:
    """The authenticated account id, or 401 when the request did not come through the gateway."""
    if not x_account_id:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "authentication required")
    return x_account_id


async def require_admin(
    account_id: Annotated[str, Depends(require_account_id)],
    x_account_role: Annotated[str | None, Header()] = None,
) -> str:
    """The authenticated account id of an administrator, or 403."""
    if x_account_role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this route is for administrators")
    return account_id


CurrentAccountId = Annotated[str, Depends(require_account_id)]
AdminAccountId = Annotated[str, Depends(require_admin)]
