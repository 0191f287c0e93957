"""The newest checkpoint this ledger published, kept OUTSIDE the database (in the key directory).

A checkpoint, once signed, is served and may be cosigned by a witness: the history up to its size
is fixed for good. A database restored from an older backup, or a standby promoted before it had
every commit, holds a shorter or different history — and a server on it would sign checkpoints
that contradict the published one (equivocation). So the ledger writes each checkpoint it signs
(or a witness cosigns) to ``<key dir>/published-checkpoint.json``, and checks the log against it
at start and before each signing (:meth:`ledger.commands.log.LogCommands.history_problem`).

The file is per origin, written atomically, mode 0600; it only ever grows (a smaller checkpoint
never replaces a larger one). An operator who brings a witnessed checkpoint from elsewhere (the
witness's published one, after restoring the key directory from a backup) adds it with
``wushe history adopt FILE``.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ledger.checkpoints import Checkpoint
from ledger.filemodes import private_dir

FILE = "published-checkpoint.json"


@dataclass(frozen=True)
class Published:
    checkpoint: Checkpoint
    note: str
    """The signed note as published (with any cosignature lines known then)."""
    witnessed: bool


class PublishedRecord:
    """The newest published checkpoint of each origin, in one JSON file."""

    def __init__(self, key_dir: Path) -> None:
        self.path = key_dir / FILE

    def get(self, origin: str) -> Published | None:
        entry = self._read().get(origin)
        if entry is None:
            return None
        return Published(Checkpoint(origin, int(entry["size"]), base64.b64decode(entry["root"])), entry["note"],
                         bool(entry.get("witnessed")))

    def record(self, checkpoint: Checkpoint, note: bytes, *, witnessed: bool = False) -> bool:
        """Keep ``checkpoint`` if it is newer than the one kept (or the same, now witnessed).
        The caller has checked it extends the kept one. False if nothing changed."""
        state = self._read()
        kept = state.get(checkpoint.origin)
        if kept is not None and (int(kept["size"]) > checkpoint.size or (
                int(kept["size"]) == checkpoint.size and (kept.get("witnessed") or not witnessed))):
            return False
        state[checkpoint.origin] = {"size": checkpoint.size, "root": base64.b64encode(checkpoint.root).decode(),
                                    "note": note.decode(), "witnessed": witnessed}
        private_dir(self.path.parent)  # the key directory: never made readable by others
        temporary = self.path.with_name(self.path.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(json.dumps(state, indent=2, sort_keys=True) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)
        return True

    def set_aside(self, origin: str, suffix: str) -> Path | None:
        """Move the whole record to ``<file>.<suffix>`` (nothing is deleted); the path, or None."""
        if self.get(origin) is None:
            return None
        target = self.path.with_name(f"{self.path.name}.{suffix}")
        os.replace(self.path, target)
        return target

    def _read(self) -> dict:
        if not self.path.exists():
            return {}
        return json.loads(self.path.read_text())
