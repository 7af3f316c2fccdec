"""The error answers every API handler documents in the OpenAPI schema (one list, so
clients and schemathesis see every status a handler can give)."""

from litestar.exceptions import (
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)

ERRORS = [NotAuthorizedException, NotFoundException, ValidationException]
# handlers that change things, or that only some roles may call, can also refuse (403)
WRITE_ERRORS = [*ERRORS, PermissionDeniedException]
