"""The full audit of a bundle: replay and signatures, the Merkle tree and every checkpoint, the
published figures, and the rule checks. Everything is recomputed from the bundle's events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from audits import rules
from audits.bundle import Bundle
from audits.figures import compare_figures
from audits.findings import CRITICAL, WARNING, Finding
from audits.replay import Progress, Replay, replay, replay_directory
from audits.tree import LeafTree, check_checkpoints
from ledger.checkpoints import CheckpointError
from ledger.signing import VerifierKey


class TrustError(ValueError):
    """A checkpoint given as trusted that the log key did not sign."""


@dataclass
class AuditResult:
    """What one audit checked and found."""

    origin: str | None
    events: int
    verified_signatures: int
    checkpoints: int
    trusted_size: int
    reports_checked: int
    reports_matched: int
    findings: list[Finding]
    witnessed: dict[int, list[str]] = field(default_factory=dict)
    """Tree size → key ids of the trusted witnesses whose cosignature verifies."""
    replay: Replay | None = field(default=None, repr=False)

    @property
    def integrity_failures(self) -> list[Finding]:
        return [f for f in self.findings if f.integrity and f.severity == CRITICAL]

    @property
    def ok(self) -> bool:
        """True when nothing undermines the history itself (rule findings may remain)."""
        return not self.integrity_failures

    def summary(self) -> dict[str, Any]:
        return {
            "origin": self.origin, "events": self.events, "verified_signatures": self.verified_signatures,
            "checkpoints": self.checkpoints, "trusted_size": self.trusted_size,
            "reports_checked": self.reports_checked, "reports_matched": self.reports_matched,
            "integrity_ok": self.ok,
            "witnessed_checkpoints": sum(1 for signers in self.witnessed.values() if signers),
            "by_severity": dict(Counter(f.severity for f in self.findings)),
            "by_rule": dict(sorted(Counter(f.rule for f in self.findings).items())),
        }


def audit(bundle: Bundle, *, reference: Any, trusted: bytes | None = None, log_key: VerifierKey | None = None,
          root_key: VerifierKey | None = None, witnesses: Sequence[VerifierKey] = (), workers: int | None = None,
          progress: Progress | None = None, run_rules: bool = True) -> AuditResult:
    """Audit a bundle. ``trusted`` is a checkpoint note the auditor already trusts (its prefix is not
    signature-checked again); ``log_key`` / ``root_key`` pin the keys published out of band."""
    rows = bundle.rows
    findings: list[Finding] = [
        Finding("integrity.bundle", WARNING, f"{name} does not match the manifest's SHA-256",
                f"{name} 与清单中的 SHA-256 不符") for name in bundle.damaged_files]
    directory, spans, _ = replay_directory(rows)
    genesis = next((s for s in spans.values()), None)
    origin = directory.ledger_name if directory is not None else None
    if bundle.origin is not None and origin is not None and bundle.origin != origin:
        findings.append(Finding("integrity.bundle", CRITICAL, f"the manifest names {bundle.origin!r}, the genesis "
                                f"event {origin!r}", "清单中的账本名与创世事件不符"))
    if root_key is not None and (genesis is None or genesis.key_id != root_key.key_id):
        findings.append(Finding("integrity.unauthorised-key", CRITICAL,
                                f"the genesis root key is {genesis.key_id if genesis else 'missing'}, not the pinned "
                                f"{root_key.key_id}", "创世根密钥与公布的根密钥不符"))
    log_keys = [VerifierKey.from_vkey(s.vkey) for s in spans.values() if s.principal == origin]
    if log_key is not None:
        if log_key.key_id not in {k.key_id for k in log_keys}:
            findings.append(Finding("integrity.unauthorised-key", CRITICAL,
                                    f"the pinned log key {log_key.key_id} is not registered in the log",
                                    "公布的日志密钥未在日志中登记"))
        log_keys = [log_key]
    tree = LeafTree.of([r.state for r in rows])
    try:
        checkpoint_findings, trusted_size, witnessed = check_checkpoints(rows, tree, bundle.checkpoints, log_keys,
                                                                         trusted, witnesses)
    except CheckpointError as exc:  # only the trusted checkpoint raises: the bundle's are findings
        raise TrustError(f"the trusted checkpoint does not verify under the log key: {exc}") from None
    replayed = replay(rows, trusted_leaves=trusted_size, workers=workers, progress=progress)
    findings += replayed.findings + checkpoint_findings
    latest = max((size for size, _ in bundle.checkpoints), default=None)
    if witnesses and latest is not None and not witnessed.get(latest):
        findings.append(Finding("integrity.checkpoint", WARNING, f"no trusted witness cosigned the latest checkpoint "
                                f"(size {latest})", f"最新检查点（大小 {latest}）没有受信见证方的副署"))
    if not bundle.checkpoints and trusted is None:
        findings.append(Finding("integrity.checkpoint", WARNING, "the bundle holds no checkpoint: nothing "
                                "commits to the log's contents", "审计包中没有检查点"))
    figure_findings, matched = compare_figures(replayed.entries, bundle.figures, origin, reference)
    findings += figure_findings
    if run_rules:
        findings += rules.check_all(replayed)
    return AuditResult(origin, len(rows), replayed.verified_signatures, len(bundle.checkpoints), trusted_size,
                       len(bundle.figures), matched, findings, witnessed, replayed)

