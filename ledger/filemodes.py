"""Private files and directories: the data directory (0700), the SQLite store and its -wal / -shm
files (0600), and the refusal of a key directory that other users can read.

The store holds every donor's and volunteer's name and the key directory every private key, so
neither may depend on the process's umask. SQLite gives the -wal and -shm files the mode of the
database file, which is why the file is created 0600 before SQLite first opens it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


class UnsafeKeyDirectory(PermissionError):
    """A key directory that users other than its owner may read, list or enter."""


def private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents with mode 0700 (whatever the umask); an existing
    directory keeps its mode."""
    path = Path(path)
    missing = []
    for parent in (path, *path.parents):
        if parent.exists():
            break
        missing.append(parent)
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue  # another process made it first
        os.chmod(directory, PRIVATE_DIR)  # mkdir's mode is masked by the umask
    return path


def private_sqlite_file(path: Path) -> None:
    """Create the SQLite file 0600 if it does not exist yet, and take group and other access away
    from it and its companions (a store created by an older version was 0644)."""
    path = Path(path)
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        pass
    for file in (path, *(path.with_name(path.name + suffix) for suffix in SQLITE_COMPANIONS)):
        try:
            if stat.S_IMODE(file.stat().st_mode) & 0o077:
                os.chmod(file, PRIVATE_FILE)
        except FileNotFoundError:
            continue


def check_key_dir(path: Path) -> None:
    """Refuse a key directory others may read, list or enter (a missing one is created 0700 later)."""
    path = Path(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o007:
        raise UnsafeKeyDirectory(
            f"the key directory {path} is open to other users (mode {mode:o}); run chmod 700 {path} "
            f"密钥目录 {path} 对其他用户开放（权限 {mode:o}），请执行 chmod 700 {path}")
