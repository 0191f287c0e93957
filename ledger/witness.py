"""A witness (见证方), for example the district civil affairs bureau: it cosigns a checkpoint only
after checking that it extends, by a valid consistency proof, the last checkpoint it cosigned —
so the ledger cannot show different histories to different people without being caught."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from ledger import merkle
from ledger.checkpoints import Checkpoint, CheckpointError, cosignature_line, open_checkpoint
from ledger.messages import explain, msg
from ledger.signing import ALG_COSIGNATURE, SigningKey, VerifierKey, key_file_stem, read_signing_key


class WitnessRefusal(CheckpointError):
    """The witness will not cosign: the checkpoint is not a consistent extension of what it saw."""


class Witness:
    """A witness key and the last checkpoint it cosigned for each log, kept in one directory."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.key = read_signing_key(directory, name)
        if self.key.alg != ALG_COSIGNATURE:
            raise CheckpointError(msg("{name} is not a witness key (signature type 0x04)", name=name))
        self.state_file = directory / "witness-state.json"

    @staticmethod
    def create(directory: Path, name: str) -> VerifierKey:
        """Generate a witness key (type 0x04) in ``directory``; returns its verifier key."""
        path = directory / f"{key_file_stem(name)}.key"
        if path.exists():
            raise FileExistsError(f"{path} already exists: a witness keeps its key")
        key = SigningKey.generate(name, ALG_COSIGNATURE)
        key.write(directory)
        return key.verifier

    def last_cosigned(self, origin: str) -> Checkpoint | None:
        state = self._state().get(origin)
        if state is None:
            return None
        return Checkpoint(origin, state["size"], base64.b64decode(state["root"]))

    def cosign(
        self, note: bytes, log_key: VerifierKey, consistency: Callable[[int, int], list[bytes]],
        now: Callable[[], float] = time.time,
    ) -> tuple[Checkpoint, str]:
        """Check ``note`` and return (its checkpoint, the cosignature line). ``consistency(old, new)``
        fetches a proof from the log; it is checked here, never trusted."""
        checkpoint, _ = open_checkpoint(note, log_key)
        previous = self.last_cosigned(checkpoint.origin)
        if previous is not None:
            if checkpoint.size < previous.size:
                raise WitnessRefusal(msg("the log went back from size {old} to {new}: refusing to cosign",
                                         old=previous.size, new=checkpoint.size))
            if checkpoint.size == previous.size and checkpoint.root != previous.root:
                raise WitnessRefusal(msg("two different roots for size {size}: the log forked", size=checkpoint.size))
            if checkpoint.size > previous.size and previous.size > 0:
                try:
                    proof = consistency(previous.size, checkpoint.size)
                except ValueError as exc:  # the log cannot prove what it signed
                    raise WitnessRefusal(msg("the log gave no consistency proof: {problem}",
                                             problem=explain(exc))) from None
                if not merkle.verify_consistency(previous.size, checkpoint.size, previous.root, checkpoint.root, proof):
                    raise WitnessRefusal(msg("size {new} is not consistent with size {old} cosigned before: the "
                                             "history was rewritten", new=checkpoint.size, old=previous.size))
        line = cosignature_line(checkpoint.text, self.key, int(now()))
        self._remember(checkpoint)
        return checkpoint, line

    def _state(self) -> dict:
        if not self.state_file.exists():
            return {}
        return json.loads(self.state_file.read_text())

    def _remember(self, checkpoint: Checkpoint) -> None:
        state = self._state()
        state[checkpoint.origin] = {"size": checkpoint.size, "root": base64.b64encode(checkpoint.root).decode()}
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=2, sort_keys=True))
        os.replace(temporary, self.state_file)
