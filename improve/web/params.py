"""Typed request parameters shared by pages and API, with the bounds the database can
hold: an id above the id columns' range (int32 on PostgreSQL) is refused as bad input
(400) instead of failing inside the database.

Paging is bounded the same way on every route that pages: a page size of 1 to
MAX_LIMIT, an offset of 0 to MAX_OFFSET, a page number of 1 to MAX_PAGE; anything else
answers 400 naming the parameter."""

from __future__ import annotations

from typing import Annotated

from litestar.params import PathParameter, QueryParameter

MAX_ID = 2**31 - 1  # PostgreSQL's serial/integer columns
MAX_LIMIT = 200
MAX_OFFSET = 1_000_000
MAX_PAGE = 10_000

Id = Annotated[int, PathParameter(ge=1, le=MAX_ID)]
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)]
Offset = Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET)]
Page = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)]
