"""The errors the server answers with, each carrying its whole Stripe error object.

Every refusal in the core is one of these; the HTTP adapter turns any of them into a status
and a `{"error": {...}}` body through one table (`DomainError.to_body`), so no handler builds
an error by hand. The codes of refused token uses are those of spec/DECISIONS.md D-11.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "AuthenticationFailed",
    "CardDeclined",
    "Conflict",
    "DomainError",
    "IdempotencyMismatch",
    "InvalidRequest",
    "NotFound",
    "PayloadTooLarge",
    "ValidationError",
    "not_found",
]

_DOC = "https://docs.stripe.com/error-codes"


class DomainError(Exception):
    """A refusal: HTTP status plus the fields of Stripe's error object."""

    status = 400
    type = "invalid_request_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.extra: Mapping[str, Any] = extra or {}

    def to_body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"{_DOC}#{self.code.replace('_', '-')}"
        if self.param is not None:
            error["param"] = self.param
        error.update(self.extra)
        return {"error": error}


class InvalidRequest(DomainError):
    """400: the request is well-formed but refused (state, limits, ownership of a parameter)."""


class ValidationError(InvalidRequest):
    """400 raised before execution begins: nothing is executed and nothing is saved, not even
    under the request's Idempotency-Key (Stripe saves results only once execution starts)."""


class NotFound(DomainError):
    """resource_missing, as Stripe answers it: 404 for an object named in the URL path, 400 for
    one named in a body or query parameter (`param` names either)."""

    status = 404

    def __init__(self, message: str, *, param: str | None = None, in_path: bool = False) -> None:
        super().__init__(message, code="resource_missing", param=param)
        if not in_path:
            self.status = 400


def not_found(message: str, param: str | None, status: int = 404) -> DomainError:
    """`resource_missing` answered with `status`: Stripe says 404 for an id in the path and 400
    for one named in a parameter; which one a server uses for which is a variant."""
    if status == 404:
        return NotFound(message, param=param, in_path=True)
    return InvalidRequest(message, code="resource_missing", param=param)


class AuthenticationFailed(DomainError):
    status = 401


class CardDeclined(DomainError):
    status = 402
    type = "card_error"


class IdempotencyMismatch(DomainError):
    type = "idempotency_error"


class Conflict(DomainError):
    status = 409
    type = "idempotency_error"


class PayloadTooLarge(ValidationError):
    status = 413
