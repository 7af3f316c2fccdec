"""The error answers every API handler documents in the OpenAPI schema (one list, so
clients and schemathesis see every status a handler can give)."""

from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)


class UnprocessableContent(HTTPException):
    """422: the body is well-formed but the domain refuses it (improve.errors.Invalid)."""

    status_code = 422


class VersionConflict(HTTPException):
    """409: the thing changed since it was read (a stale version) or already exists."""

    status_code = 409


ERRORS = [NotAuthorizedException, NotFoundException, ValidationException]
# handlers that change things, or that only some roles may call, can also refuse (403),
# find the data wrong (422) or stale (409)
WRITE_ERRORS = [
    *ERRORS,
    PermissionDeniedException,
    UnprocessableContent,
    VersionConflict,
]
