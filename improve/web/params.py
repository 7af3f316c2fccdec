"""Typed request parameters shared by pages and API, with the bounds the database can
hold: an id above the id columns' range (int32 on PostgreSQL) is refused as bad input
(400) instead of failing inside the database."""

from __future__ import annotations

from typing import Annotated

from litestar.params import PathParameter, QueryParameter

MAX_ID = 2**31 - 1  # PostgreSQL's serial/integer columns

Id = Annotated[int, PathParameter(ge=1, le=MAX_ID)]
Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Offset = Annotated[int, QueryParameter(ge=0, le=1_000_000)]
