"""The validation report: what the registry stores and shows the publisher and reviewers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from workers.packs.scan import Finding


class Problem(BaseModel):
    """A blocking error: a stable code, a message naming the file/field/node, and where it is."""

    code: str
    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None
    node: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.file and self.line else self.file
        return f"[{self.code}] {where}: {self.message}" if where else f"[{self.code}] {self.message}"


class FileRecord(BaseModel):
    """One file of the pack with its hash."""

    path: str
    sha256: str
    size: int


class ValidationReport(BaseModel):
    """Everything validation found. ``ok``: no blocking errors; ``flagged``: a reviewer must look first."""

    ok: bool = False
    flagged: bool = False
    source: str = ""
    sha256: str | None = None
    size: int | None = None
    errors: list[Problem] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    manifest: dict[str, Any] | None = None
    files: list[FileRecord] = Field(default_factory=list)
    nodes: list[dict[str, Any]] = Field(default_factory=list)
    import_checked: bool = False

    def finish(self) -> ValidationReport:
        """Set ``ok`` and ``flagged`` from the errors and findings; return self."""
        self.ok = not self.errors
        self.flagged = any(finding.severity == "high" for finding in self.findings)
        return self
