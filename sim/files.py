"""Atomic, durable file writes: a file is either its old self or complete, never half written.

Everything is written to a temporary file beside the target (same folder, so the same file system), flushed to
disk, renamed over the target and, last, the folder itself is flushed so that the rename survives a power cut. A
writer that fails leaves the target as it was and removes its temporary file. Temporary files are hidden
(``.name.<random>.tmp``) so that a folder listed by pattern (``*.yaml``, ``*.npz``) never shows one.

:func:`write_atomic` writes bytes or text; :func:`atomic_path` lends a temporary path to writers that want one
(pandas, pyarrow, numpy) and commits it when the block ends.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "write_atomic"]

#: Permission bits of a new file before the umask, as ``open()`` gives them.
_DEFAULT_MODE = 0o666
#: Errors of a folder ``fsync`` on file systems that do not support it (some network and FUSE ones): the rename
#: is done, it just cannot be made durable there.
_NO_FOLDER_SYNC = frozenset({errno.EINVAL, errno.ENOTSUP, errno.EBADF, errno.EACCES, errno.EPERM})


def write_atomic(path: str | Path, data: bytes | str, *, mode: int | None = None, durable: bool = True) -> None:
    """Replace ``path`` by ``data`` (text is written as UTF-8) atomically and, unless told not to, durably.

    ``mode`` sets the new file's permission bits (e.g. ``0o600`` for a file only its owner may read); by
    default they are those of any new file (``0o666`` less the umask). ``durable=False`` skips the two
    ``fsync`` calls (see :func:`atomic_path`). The folder must exist.
    """
    content = data.encode("utf-8") if isinstance(data, str) else data
    # Written through the descriptor that created the temporary file: a batch writes one file per run, and each
    # system call shows in its time.
    with _replacing(path, mode, durable) as (_, descriptor), os.fdopen(descriptor, "wb") as handle:
        handle.write(content)


@contextmanager
def atomic_path(path: str | Path, *, mode: int | None = None, durable: bool = True) -> Iterator[Path]:
    """A temporary path beside ``path`` to write in full; when the block ends it replaces ``path`` durably.

    The temporary file already exists (empty, with ``mode`` as in :func:`write_atomic`); write it by name or open
    it. If the block raises, ``path`` is left as it was, the temporary file is removed and the exception goes
    on. Example::

        with atomic_path(out / "runs.parquet") as temporary:
            frame.to_parquet(temporary)

    ``durable=False`` keeps the replacement atomic for every reader but skips flushing it to disk: after a power
    cut the file may be empty. That is for files that are cheap to make again and many (a batch's part file per
    run, which its reader checks), where two ``fsync`` calls - about 6.6 ms on an ext4 disk - would cost more
    than the run that wrote it.
    """
    with _replacing(path, mode, durable) as (temporary, descriptor):
        os.close(descriptor)  # the writer opens the file by its name
        yield temporary


@contextmanager
def _replacing(path: str | Path, mode: int | None, durable: bool) -> Iterator[tuple[Path, int]]:
    """A new temporary file beside ``path`` and a descriptor open on it for writing; when the block ends the file
    (flushed to disk if ``durable``) replaces ``path``, and the folder is flushed so the rename lasts. If the
    block raises, ``path`` is left as it was and the temporary file removed."""
    target = Path(path)
    temporary, descriptor = _create_temporary(target, _DEFAULT_MODE if mode is None else mode)
    try:
        yield temporary, descriptor
        if durable:
            _sync_file(temporary)  # the data is on disk before the new name points at it
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if durable:
        _sync_folder(target.parent)


def _create_temporary(target: Path, mode: int) -> tuple[Path, int]:
    """A new, empty, hidden file beside ``target``, made exclusively (never one another writer is using), and
    the descriptor it is open for writing on."""
    while True:
        candidate = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            return candidate, os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            continue


def _sync_file(path: Path) -> None:
    """Flush ``path``'s data to disk (written through another handle: ``fsync`` flushes the file, not a handle)."""
    # Windows flushes only through a handle open for writing; POSIX accepts any, and a read-only one works for a
    # file whose mode forbids writing.
    descriptor = os.open(path, os.O_RDWR if os.name == "nt" else os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sync_folder(folder: Path) -> None:
    """Flush ``folder``'s entries, so a rename in it is durable; Windows has no such call (nor needs one)."""
    if os.name == "nt":
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError as exc:
        if exc.errno in _NO_FOLDER_SYNC:
            return
        raise
    try:
        os.fsync(descriptor)
    except OSError as exc:
        if exc.errno not in _NO_FOLDER_SYNC:
            raise
    finally:
        os.close(descriptor)
