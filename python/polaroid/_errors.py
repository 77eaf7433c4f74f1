"""One exception hierarchy for everything the server (or the channel) refuses."""

from __future__ import annotations

import grpc


class PolaroidError(Exception):
    """Base of every error this package raises for a failed request.

    ``code`` is the gRPC status code and ``reason`` the server's message.
    """

    def __init__(self, reason: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class NotFoundError(PolaroidError):
    """An unknown or expired handle, or a missing file."""


class InvalidArgumentError(PolaroidError):
    """A malformed request: a bad expression, option, path or query."""


class PermissionDeniedError(PolaroidError):
    """A path outside the server's data directory, or a refused operation."""


class ResourceExhaustedError(PolaroidError):
    """The server's memory budget or query slots are used up."""


class UnauthenticatedError(PolaroidError):
    """A missing or unknown token."""


class FailedPreconditionError(PolaroidError):
    """Damaged input data, or a state that does not allow the request."""


class UnavailableError(PolaroidError):
    """The server cannot be reached."""


class DeadlineExceededError(PolaroidError):
    """The request's deadline passed."""


class CancelledError(PolaroidError):
    """The request was cancelled."""


class UnimplementedError(PolaroidError):
    """The server does not offer this."""


class InternalError(PolaroidError):
    """A server-side failure (a caught panic inside polars, say)."""


_BY_CODE: dict[grpc.StatusCode, type[PolaroidError]] = {
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.CANCELLED: CancelledError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
    grpc.StatusCode.INTERNAL: InternalError,
}


def from_rpc_error(err: grpc.RpcError) -> PolaroidError:
    """The exception for a failed call, keeping the server's reason."""
    code = err.code() if hasattr(err, "code") else None
    reason = err.details() if hasattr(err, "details") else str(err)
    return _BY_CODE.get(code, PolaroidError)(reason or str(code), code)
