"""Who is asking: bearer tokens to accounts, and the role checks of each audience."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from api.accounts import ANONYMOUS, Account, AccountStore


def accounts(request: Request) -> AccountStore:
    store: AccountStore = request.app.state.accounts
    return store


def current_account(request: Request) -> Account:
    """The account of the bearer token; anonymous readers when allowed and no token is sent."""
    header = request.headers.get("authorization")
    if header is None:
        if request.app.state.settings.anonymous_read:
            return ANONYMOUS
        raise HTTPException(401, "a bearer token is required",
                            headers={"WWW-Authenticate": "Bearer"})
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "the Authorization header must be 'Bearer <token>'",
                            headers={"WWW-Authenticate": "Bearer"})
    account = accounts(request).authenticate(token.strip())
    if account is None:
        raise HTTPException(401, "unknown or revoked token",
                            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    request.state.account = account.name
    return account


CurrentAccount = Annotated[Account, Depends(current_account)]


def _require_login(account: Account) -> None:
    if account is ANONYMOUS:
        raise HTTPException(401, "a bearer token is required",
                            headers={"WWW-Authenticate": "Bearer"})


def writer(account: CurrentAccount) -> Account:
    _require_login(account)
    if not account.may_write:
        raise HTTPException(403, f"a {account.role} account may not record entries")
    return account


def auditor(account: CurrentAccount) -> Account:
    _require_login(account)
    if account.role not in ("auditor", "admin"):
        raise HTTPException(403, f"a {account.role} account may not read the audit trail")
    return account


Writer = Annotated[Account, Depends(writer)]
Auditor = Annotated[Account, Depends(auditor)]
