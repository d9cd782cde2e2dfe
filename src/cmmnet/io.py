"""Atomic file and directory writes: write to a temporary name beside the target, then rename."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import CmmnetError


def _check_parent(path: Path) -> None:
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CmmnetError(f"{parent}: cannot create output directory ({e.strerror}); choose another --out") from e
    if not os.access(parent, os.W_OK):
        raise CmmnetError(f"{parent}: output directory is not writable; choose another --out")


@contextlib.contextmanager
def _creating(parent: Path) -> Iterator[None]:
    """Creating the temporary file or directory in ``parent`` fails as a CmmnetError (e.g. a read-only or virtual
    file system that ``os.access`` calls writable)."""
    try:
        yield
    except OSError as e:
        raise CmmnetError(f"{parent}: cannot write there ({e.strerror}); choose another --out") from e


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; on success rename it onto ``path``.

    The temporary name keeps the target's suffix, so writers that choose a format by suffix still work.
    """
    path = Path(path)
    _check_parent(path)
    with _creating(path.parent):
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the result a plain file's permissions
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary directory; on success it replaces ``path`` (an existing one is removed).

    An interrupted write leaves only a hidden ``.NAME.tmp-*`` directory, never a partial ``path``.
    """
    path = Path(path)
    _check_parent(path)
    with _creating(path.parent):
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; give the result a plain directory's permissions
    try:
        yield tmp
        old = None
        if path.exists():
            old = path.parent / f".{path.name}.old-{os.getpid()}"
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
