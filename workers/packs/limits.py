"""The limits an uploaded pack archive must respect; the build enforces the same ones."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MIB = 1024 * 1024


class Limits(BaseModel):
    """Upload, archive and resource limits for validating a pack (sizes in bytes, times in seconds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_archive_bytes: int = Field(20 * MIB, gt=0)
    max_files: int = Field(1000, gt=0)
    max_file_bytes: int = Field(10 * MIB, gt=0)
    max_total_bytes: int = Field(100 * MIB, gt=0)
    max_ratio: float = Field(100.0, gt=1)
    ratio_min_bytes: int = Field(1 * MIB, ge=0)
    """Compression ratios are only judged for entries at least this large (small files compress freely)."""
    max_path_length: int = Field(240, gt=0)
    max_py_file_bytes: int = Field(2 * MIB, gt=0)
    """Python files larger than this are not parsed by the scanner (and are flagged instead)."""
    cpu_seconds: int = Field(30, gt=0)
    memory_bytes: int = Field(1024 * MIB, gt=0)
    wall_seconds: float = Field(60.0, gt=0)
    import_check: bool = True
    import_cpu_seconds: int = Field(10, gt=0)
    import_memory_bytes: int = Field(1024 * MIB, gt=0)
    import_wall_seconds: float = Field(20.0, gt=0)
