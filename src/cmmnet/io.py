"""Outputs: one rule for every command that writes, and atomic writes (temporary name beside the target, then rename).

The output rule (docs/reliability.md), checked by :func:`check_output` before any work:

* a path that does not exist, an empty folder, or a folder cmmnet wrote (it holds the marker file
  ``.cmmnet-output`` naming the command; outputs of earlier versions are recognised by ``meta.json`` (generate),
  ``README.txt`` (demo), a cmmnet ``dataset.json`` (synth, prepare) or study ``key.json``, or ``report.md`` with
  ``metrics.jsonl`` (evaluate)) is written, replacing it atomically;
* an existing file (unless it is a PNG cmmnet wrote: its ``Software`` text chunk says so), a folder with anything
  else in it, a symbolic link, the current folder or one of its parents is refused with one line naming it.

Temporary names are hidden and carry the writer's process id (``.NAME.tmp-PID-XXXX``); a later run removes those
whose process is gone (a killed run), so nothing is left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import OutputError

MARKER = ".cmmnet-output"  # in every folder cmmnet writes; holds {"command": NAME}
PNG_SOFTWARE = "cmmnet"  # the PNG "Software" text chunk of the images cmmnet writes as outputs
_LEGACY_MARKERS = ("meta.json", "README.txt")  # generate's and demo's folders before the marker file existed
_LEGACY_JSON = (("dataset.json", "cmmnet-dataset"), ("key.json", "cmmnet-study-key"))  # synth/prepare, study make
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?:tmp|old)-(?P<pid>\d+)(?:-.*)?$")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temporaries(path: str | Path) -> None:
    """Remove the hidden ``.NAME.tmp-PID-*`` / ``.NAME.old-PID`` leftovers of ``path`` whose process is gone."""
    path = Path(path)
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    for e in entries:
        m = _TEMP.match(e.name)
        if not m or m["name"] != path.name or _pid_alive(int(m["pid"])):
            continue
        if e.is_dir(follow_symlinks=False):
            shutil.rmtree(e.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(e.path)


def _json_format(path: Path) -> object:
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return meta.get("format") if isinstance(meta, dict) else None


def written_by_cmmnet(path: str | Path) -> bool:
    """Whether the existing folder or PNG ``path`` is a cmmnet output (see the module docstring)."""
    path = Path(path)
    if path.is_dir():
        if (path / MARKER).is_file() or any((path / m).is_file() for m in _LEGACY_MARKERS):
            return True
        if (path / "report.md").is_file() and (path / "metrics.jsonl").is_file():  # an earlier evaluate report
            return True
        return any(_json_format(path / name) == fmt for name, fmt in _LEGACY_JSON)
    try:
        from PIL import Image

        with Image.open(path) as img:
            return img.format == "PNG" and str(img.info.get("Software", "")).startswith(PNG_SOFTWARE)
    except Exception:  # noqa: BLE001 - anything unreadable is simply not ours
        return False


def _check_parent(path: Path, flag: str) -> None:
    """The nearest existing ancestor of ``path`` must be a writable folder (the rest is created later)."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        if parent.is_symlink():
            raise OutputError(f"{flag} {path}: {parent} is a broken symbolic link; choose another {flag}")
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{flag} {path}: {parent} is a file, not a folder; choose another {flag}")
    try:  # really try: os.access trusts permission bits that a read-only or virtual file system overrides
        fd, probe = tempfile.mkstemp(prefix=_temp_prefix(path), dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OutputError(f"{flag} {path}: cannot write in {parent} ({e.strerror}); choose another {flag}") from e


def check_output(path: str | Path, kind: str = "dir", flag: str = "--out") -> Path:
    """Apply the output rule to ``path`` (``kind`` "dir" or "file") before any work; returns it.

    Raises :class:`OutputError` naming the problem. Also removes stale temporaries of earlier killed runs.
    """
    text = str(path)
    if not text.strip():
        raise OutputError(f"{flag} is empty; give a path to write")
    path = Path(path)
    try:
        here, full = Path.cwd().resolve(), path.resolve()
    except (OSError, RuntimeError) as e:
        raise OutputError(f"{flag} {path}: cannot resolve the path ({e}); choose another {flag}") from e
    if path.is_symlink():
        raise OutputError(f"{flag} {path}: is a symbolic link; cmmnet does not write through links, choose a new name")
    if full == here or full in here.parents:
        raise OutputError(f"{flag} {path}: is the current folder or one of its parents; name a new "
                          f"{'folder' if kind == 'dir' else 'file'} inside it")
    _check_parent(path, flag)
    remove_stale_temporaries(path)
    if not path.exists():
        return path
    what = "a folder" if kind == "dir" else "a file"
    if kind == "dir" and path.is_dir():
        try:
            empty = not any(path.iterdir())
        except OSError as e:
            raise OutputError(f"{flag} {path}: cannot list it ({e.strerror}); choose another {flag}") from e
        if empty or written_by_cmmnet(path):
            return path
        raise OutputError(f"{flag} {path}: folder exists with files cmmnet did not write; choose a new name "
                          "(nothing was changed)")
    if kind == "file" and path.is_file() and written_by_cmmnet(path):
        return path
    if kind == "dir" and path.is_file():
        raise OutputError(f"{flag} {path}: exists and is a file; give {what} name that is new (nothing was changed)")
    raise OutputError(f"{flag} {path}: already exists and cmmnet did not write it; choose a new name "
                      "(nothing was changed)")


@contextlib.contextmanager
def _creating(parent: Path) -> Iterator[None]:
    """Creating the temporary file or directory in ``parent`` fails as an OutputError (e.g. a read-only or virtual
    file system that ``os.access`` calls writable)."""
    try:
        yield
    except OSError as e:
        raise OutputError(f"{parent}: cannot write there ({e.strerror}); choose another --out") from e


def _make_parent(path: Path) -> None:
    with _creating(path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
    if not os.access(path.parent, os.W_OK):
        raise OutputError(f"{path.parent}: output directory is not writable; choose another --out")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.tmp-{os.getpid()}-"


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; on success rename it onto ``path``.

    The temporary name keeps the target's suffix, so writers that choose a format by suffix still work.
    """
    path = Path(path)
    _make_parent(path)
    remove_stale_temporaries(path)
    with _creating(path.parent):
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the result a plain file's permissions
    try:
        yield tmp_path
        with _creating(path.parent):
            os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def save_png(array, path: str | Path, command: str) -> None:
    """Write an (H, W[, 3]) uint8 array as a PNG atomically, marked as ``command``'s output (its ``Software`` text
    chunk), so that a re-run may replace it."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Software", f"{PNG_SOFTWARE} {command}")
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG", pnginfo=info)


def claim_dir(path: str | Path, command: str) -> Path:
    """Create the folder ``path`` (checked by :func:`check_output`) for a command that fills it bit by bit and
    resumes (``evaluate``'s report with its cache, ``train``'s run): the marker file is written first, so a
    re-run recognises the folder as its own."""
    path = check_output(path)
    with _creating(path):
        path.mkdir(parents=True, exist_ok=True)
        if not (path / MARKER).is_file():
            atomic_write_text(path / MARKER, json.dumps({"command": command}) + "\n")
    return path


@contextlib.contextmanager
def atomic_dir(path: str | Path, command: str | None = None) -> Iterator[Path]:
    """Yield a fresh temporary directory; on success it replaces ``path`` (an existing one is removed).

    With ``command``, ``path`` is first checked by :func:`check_output` and the marker file naming the command
    is written into the result. An interrupted write leaves only a hidden ``.NAME.tmp-PID-*`` directory, never a
    partial ``path``, and the next run removes it.
    """
    path = Path(path)
    if command is not None:
        check_output(path)
    _make_parent(path)
    remove_stale_temporaries(path)
    with _creating(path.parent):
        tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(path), dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; give the result a plain directory's permissions
    try:
        yield tmp
        if command is not None:
            (tmp / MARKER).write_text(json.dumps({"command": command}) + "\n")
        old = None
        with _creating(path.parent):
            if path.exists():
                old = path.parent / f".{path.name}.old-{os.getpid()}"
                os.replace(path, old)
            os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
