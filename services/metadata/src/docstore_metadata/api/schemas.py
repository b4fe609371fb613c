"""Request and response bodies of metadata's routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class SignupIn(BaseModel):
    username: str = Field(min_length=1, max_length=64, examples=["ada"])
    email: str = Field(min_length=3, max_length=254, examples=["ada@example.com"])
    password: str = Field(min_length=1, max_length=1024)
    plan: Literal["free", "premium"] = "free"


class AccountOut(BaseModel):
    account_id: str
    username: str
    email: str
    plan: str
    home_region: str


class CredentialsIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class PlanIn(BaseModel):
    plan: Literal["free", "premium"]


class DocumentOut(BaseModel):
    document_id: str
    name: str
    title: str | None
    tags: list[str]
    path: str
    content_type: str
    size: int
    sha256: str
    version: int
    created_at: datetime
    modified_at: datetime


class DocumentPage(BaseModel):
    items: list[DocumentOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class VersionOut(BaseModel):
    version: int
    size: int
    sha256: str
    etag: str
    content_type: str
    created_at: datetime


class DownloadOut(BaseModel):
    url: str
    expires_in: int
