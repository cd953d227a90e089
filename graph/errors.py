"""The exceptions of the rivalry domain. Each carries the HTTP status it maps to, so that
one handler in the server can render any of them (CONTRIBUTING.md, convention 4)."""

from __future__ import annotations

from dataclasses import dataclass


class RivalryError(Exception):
    """Base of every error the domain raises on purpose."""

    status = 500
    title = "Internal error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict:
        return {"error": self.title, "status": self.status, "message": self.message}


@dataclass(frozen=True)
class SourceLocation:
    """Where in an input file something went wrong. Lines and columns count from 1."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where


class InvalidInput(RivalryError):
    """An input file cannot be read or parsed: says which file, where, and why."""

    status = 400
    title = "Invalid input"

    def __init__(self, location: SourceLocation, reason: str, hint: str | None = None) -> None:
        message = f"{location}: {reason}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)
        self.location = location
        self.reason = reason
        self.hint = hint

    def to_dict(self) -> dict:
        data = super().to_dict()
        data.update(
            file=self.location.file, line=self.location.line, column=self.location.column
        )
        return data


class InvalidOntology(RivalryError):
    """The ontology itself is broken: unparseable, or a term it needs is missing."""

    title = "Invalid ontology"


class InvalidFacts(RivalryError):
    """Facts that do not hold together: inconsistent under the ontology, or failing shapes."""

    status = 422
    title = "Invalid facts"

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.details = details or []

    def __str__(self) -> str:
        if not self.details:
            return self.message
        return self.message + "\n" + "\n".join(f"  - {d}" for d in self.details)

    def to_dict(self) -> dict:
        data = super().to_dict()
        data["details"] = self.details
        return data


class QueryError(RivalryError):
    """A SPARQL query that cannot be run: a syntax error, or a form that is not allowed."""

    status = 400
    title = "Invalid query"


class QuerySyntaxError(QueryError):
    """A query that cannot be parsed: the message says what and where in one line; the
    line, column and token are also given apart, for clients."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None,
                 token: str | None = None) -> None:
        super().__init__(message)
        self.line, self.column, self.token = line, column, token

    def to_dict(self) -> dict:
        data = super().to_dict()
        data.update({k: v for k, v in (("line", self.line), ("column", self.column),
                                       ("token", self.token)) if v is not None})
        return data


class UpdateRefused(QueryError):
    """A SPARQL update sent to the read-only endpoint, however it is sent (HTTP 403)."""

    status = 403
    title = "Read-only endpoint"


class FormatCannotHold(QueryError):
    """An answer the asked format cannot write (HTTP 406; exit code 2): RDF/XML and a
    predicate whose IRI does not end in an XML name. The message names it and the
    formats that can."""

    status = 406
    title = "Not acceptable"


class QueryTimeout(RivalryError):
    """A query ran past its time limit; the message names the setting."""

    status = 503
    title = "Query timed out"


class NotFound(RivalryError):
    status = 404
    title = "Not found"


class StoreError(RivalryError):
    """The store is missing, locked, or cannot be written."""

    status = 503
    title = "Store unavailable"


class StoreWriteError(StoreError):
    """A build could not be written: a full disk, a read-only file system, missing
    permissions. The store being served is left as it was."""

    title = "Store cannot be written"

    @classmethod
    def from_os_error(cls, error: OSError, where: str) -> StoreWriteError:
        import errno

        reason = error.strerror or str(error)
        hint = {errno.ENOSPC: "free some space, or build into another --store",
                errno.EDQUOT: "free some space, or build into another --store",
                errno.EROFS: "the file system is read-only: build into a writable --store",
                errno.EACCES: "this user may not write there: fix the permissions or "
                              "choose another --store",
                errno.EPERM: "this user may not write there: fix the permissions or "
                             "choose another --store"}.get(error.errno or 0,
                                                           "check the disk and the path")
        return cls(f"cannot write {where}: {reason}; {hint}. The store being served is "
                   "unchanged.")


class NoBuild(StoreError):
    """Nothing has been built into the store yet: run `rivalry build`."""


class ExternalStoreError(StoreError):
    """The external SPARQL server failed: it cannot be reached, refused a request, gave an
    answer that cannot be read, or did not answer within the time allowed. The message
    names the server and, for a time limit, the setting that set it."""

    title = "External store unavailable"


class ReasonerUnavailable(RivalryError):
    """The HermiT reasoner cannot run, usually because Java is missing."""

    title = "Reasoner unavailable"
