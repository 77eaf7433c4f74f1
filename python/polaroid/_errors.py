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


class AlreadyExistsError(PolaroidError):
    """A name already taken: a live source's that is running."""


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
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
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


# The trailer naming polars' kind of error, by polars' Rust name, and the
# polars exception it is in Python.
_POLARS_KIND_KEY = "polaroid-polars-error"
_POLARS_EXCEPTIONS = {
    "ColumnNotFound": "ColumnNotFoundError", "ComputeError": "ComputeError", "Duplicate": "DuplicateError",
    "InvalidOperation": "InvalidOperationError", "NoData": "NoDataError", "OutOfBounds": "OutOfBoundsError",
    "SchemaFieldNotFound": "SchemaFieldNotFoundError", "SchemaMismatch": "SchemaError", "ShapeMismatch": "ShapeError",
    "SQLInterface": "SQLInterfaceError", "SQLSyntax": "SQLSyntaxError",
    "StringCacheMismatch": "StringCacheMismatchError", "StructFieldNotFound": "StructFieldNotFoundError",
}
_BOTH: dict[tuple[type[PolaroidError], str], type[PolaroidError]] = {}


def _as_polars(cls: type[PolaroidError], kind: str) -> type[PolaroidError]:
    """``cls`` that is also polars' exception for ``kind``: ``except pl.exceptions.ComputeError``
    catches the server's polars errors as it catches local ones, and so does ``except cls``."""
    name = _POLARS_EXCEPTIONS.get(kind)
    if name is None:
        return cls
    if (cls, name) not in _BOTH:
        import polars.exceptions

        polars_cls = getattr(polars.exceptions, name)
        _BOTH[cls, name] = type(name, (cls, polars_cls), {"__module__": __name__, "__doc__": polars_cls.__doc__})
    return _BOTH[cls, name]


def from_rpc_error(err: grpc.RpcError) -> PolaroidError:
    """The exception for a failed call, keeping the server's reason (and polars' kind of error)."""
    code = err.code() if hasattr(err, "code") else None
    reason = err.details() if hasattr(err, "details") else str(err)
    cls = _BY_CODE.get(code, PolaroidError)
    trailers = err.trailing_metadata() if hasattr(err, "trailing_metadata") else None
    kind = next((value for key, value in trailers or () if key == _POLARS_KIND_KEY), None)
    if isinstance(kind, str):
        cls = _as_polars(cls, kind)
    return cls(reason or str(code), code)
