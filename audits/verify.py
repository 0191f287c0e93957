"""The full audit of a bundle: replay and signatures, the Merkle tree and every checkpoint, the
published figures, and the rule checks. Everything is recomputed from the bundle's events.

``resume`` is the incremental audit: from a saved audit state (``audits.state``) it reads only the
events after the state's checkpoint, proves with the state's Merkle frontier that the log extends
the audited tree, and continues the views and the rule checks from where the state left them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from audits.bundle import Bundle, StoredRow
from audits.directory import compare_keys_file
from audits.figures import UnfoldableEvent, ViewsAt, compare_figures, continued_views, fresh_views
from audits.findings import CRITICAL, WARNING, Finding
from audits.pages import compare_pages
from audits.replay import (
    Entry,
    KeySpan,
    PendingReplay,
    Prefix,
    Progress,
    Replay,
    keys_file,
    ref,
    replay,
    replay_directory,
    stream_versions,
)
from audits.rules import RuleRun
from audits.state import AuditState, StateError
from audits.statements import compare as compare_statements
from audits.tree import LeafTree, SignedHead, check_checkpoints, cosigners, open_signed
from ledger import merkle
from ledger.checkpoints import CheckpointError
from ledger.principals import DIRECTORY_ID
from ledger.signing import VerifierKey


class TrustError(ValueError):
    """A checkpoint given as trusted that the log key did not sign."""


class StateMismatch(StateError):
    """A saved audit state the log does not extend: another ledger, a truncated log, or a history
    rewritten before the state's checkpoint."""


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
    state: AuditState | None = field(default=None, repr=False)
    """The audit state at the latest checkpoint, when one was asked for and the audit is clean."""
    state_error: str | None = None
    """Why no state could be saved although one was asked for."""
    statements_checked: int = 0
    statements_matched: int = 0
    """Published 民非 statements recomputed from the events (a full audit only), and how many agreed."""
    pages_checked: int = 0
    pages_matched: int = 0
    """Public pages (funds, projects, street-towns …) recomputed from the events, and how many agreed."""

    @property
    def integrity_failures(self) -> list[Finding]:
        return [f for f in self.findings if f.integrity and f.severity == CRITICAL]

    @property
    def ok(self) -> bool:
        """True when nothing undermines the history itself (rule findings may remain)."""
        return not self.integrity_failures

    def summary(self) -> dict[str, Any]:
        """The counts, which add up: ``events`` = ``directory_events`` (checked with the root key) +
        ``signatures_checked`` (``verified_signatures`` + ``failed_signatures``) + ``trusted_unchecked``."""
        r = self.replay
        counts = {"directory_events": r.directory_events, "directory_failed": r.directory_failed,
                  "signatures_checked": r.signatures_checked, "failed_signatures": r.failed_signatures,
                  "trusted_unchecked": self.events - r.directory_events - r.signatures_checked} if r else {}
        return {
            "origin": self.origin, "events": self.events, "verified_signatures": self.verified_signatures, **counts,
            "checkpoints": self.checkpoints, "trusted_size": self.trusted_size,
            "reports_checked": self.reports_checked, "reports_matched": self.reports_matched,
            "statements_checked": self.statements_checked, "statements_matched": self.statements_matched,
            "integrity_ok": self.ok,
            "witnessed_checkpoints": sum(1 for signers in self.witnessed.values() if signers),
            "by_severity": dict(Counter(f.severity for f in self.findings)),
            "by_rule": dict(sorted(Counter(f.rule for f in self.findings).items())),
        }


def _damaged(bundle: Bundle) -> list[Finding]:
    return [Finding("integrity.bundle", WARNING, f"{name} does not match the manifest's SHA-256",
                    f"{name} 与清单中的 SHA-256 不符") for name in bundle.damaged_files]


def _pinned(spans: dict[str, KeySpan], origin: str | None, log_key: VerifierKey | None,
            root_key: VerifierKey | None) -> tuple[list[Finding], list[VerifierKey]]:
    """Findings about the pinned keys, and the log keys checkpoints are checked with."""
    findings = []
    genesis = next((s for s in spans.values()), None)
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
    return findings, log_keys


def _origin_findings(bundle: Bundle, origin: str | None) -> list[Finding]:
    if bundle.origin is not None and origin is not None and bundle.origin != origin:
        return [Finding("integrity.bundle", CRITICAL, f"the manifest names {bundle.origin!r}, the genesis "
                        f"event {origin!r}", "清单中的账本名与创世事件不符")]
    return []


def _witness_findings(bundle: Bundle, witnesses: Sequence[VerifierKey], witnessed: dict[int, list[str]],
                      trusted: bool) -> list[Finding]:
    findings = []
    latest = max((size for size, _ in bundle.checkpoints), default=None)
    if witnesses and latest is not None and not witnessed.get(latest):
        findings.append(Finding("integrity.checkpoint", WARNING, f"no trusted witness cosigned the latest checkpoint "
                                f"(size {latest})", f"最新检查点（大小 {latest}）没有受信见证方的副署"))
    if not bundle.checkpoints and not trusted:
        findings.append(Finding("integrity.checkpoint", WARNING, "the bundle holds no checkpoint: nothing "
                                "commits to the log's contents", "审计包中没有检查点"))
    return findings


def audit(bundle: Bundle, *, reference: Any, trusted: bytes | None = None, log_key: VerifierKey | None = None,
          root_key: VerifierKey | None = None, witnesses: Sequence[VerifierKey] = (), workers: int | None = None,
          progress: Progress | None = None, run_rules: bool = True, save_state: bool = False) -> AuditResult:
    """Audit a bundle. ``trusted`` is a checkpoint note the auditor already trusts (its prefix is not
    signature-checked again); ``log_key`` / ``root_key`` pin the keys published out of band.
    ``save_state`` keeps the audit's state at the latest checkpoint in ``result.state``."""
    rows = bundle.rows
    findings = _damaged(bundle)
    directory, spans, _ = replay_directory(rows)
    origin = directory.ledger_name if directory is not None else None
    findings += _origin_findings(bundle, origin)
    findings += compare_keys_file(bundle.keys, keys_file(spans, rows))
    pin_findings, log_keys = _pinned(spans, origin, log_key, root_key)
    findings += pin_findings
    tree = LeafTree.of([r.state for r in rows])
    try:
        checkpoint_findings, trusted_size, witnessed = check_checkpoints(rows, tree, bundle.checkpoints, log_keys,
                                                                         trusted, witnesses)
    except CheckpointError as exc:  # only the trusted checkpoint raises: the bundle's are findings
        raise TrustError(f"the trusted checkpoint does not verify under the log key: {exc}") from None
    pending = PendingReplay(rows, trusted_size, workers, progress, None)
    anchor = max((size for size, _ in bundle.checkpoints if 0 < size <= len(rows)), default=0) if save_state else 0
    # the views and rules run on the history as it is if every signature verifies, while the workers check
    # them; if some do not, they run again on the events that do
    try:
        judged = _judge(pending.speculative, pending.principals, bundle, origin, reference, anchor, run_rules)
    except Exception:  # noqa: BLE001 -- an event that fails verification may break what verified ones cannot
        judged = None
    finally:
        replayed = pending.result()
    if judged is None or replayed.entries is not pending.speculative:
        judged = _judge(replayed.entries, replayed.principals, bundle, origin, reference, anchor, run_rules)
    views_at, figure_findings, matched, rule_findings, rules_state = judged
    figure_findings += _unfolded(bundle, views_at, replayed.entries)
    statement_findings, statements_matched = compare_statements(replayed.entries, bundle.statements)
    page_findings, pages_matched = compare_pages(views_at, bundle.pages)
    figure_findings = figure_findings + statement_findings + page_findings
    findings += replayed.findings + checkpoint_findings
    findings += _witness_findings(bundle, witnesses, witnessed, trusted is not None)
    findings += figure_findings + rule_findings
    result = AuditResult(origin, len(rows), replayed.verified_signatures, len(bundle.checkpoints), trusted_size,
                         len(bundle.figures), matched, findings, witnessed, replayed,
                         statements_checked=len(bundle.statements), statements_matched=statements_matched,
                         pages_checked=len(bundle.pages), pages_matched=pages_matched)
    if save_state:
        if not anchor:
            result.state_error = "the log has no checkpoint to anchor an audit state to 没有检查点，无法保存审计状态"
        elif result.ok:
            size = anchor
            checkpoint = next(note for s, note in bundle.checkpoints if s == size)
            frontier = merkle.Frontier([((b - a).bit_length() - 1, tree.range_hash(a, b))
                                        for a, b in merkle.perfect_parts(0, size)], size)
            known = [[s, tree.root(s)] for s, _ in bundle.checkpoints if s <= size]
            image = _image(views_at, rows[size - 1].position, result)
            _keep_state(result, origin, rows[:size], frontier, tree.levels[0][size - 1], checkpoint, known,
                        [], {}, image, rules_state)
    return result


def _unfolded(bundle: Bundle, views_at: ViewsAt, entries: Sequence[Entry]) -> list[Finding]:
    """A log the exporter's views could not fold carries no published figures to compare: fold the
    verified history here, to name the event no view can read (or to say the figures are missing)."""
    error = bundle.figures_error or (bundle.manifest or {}).get("figures_error")
    if not error or not entries or bundle.figures:  # with reports, comparing them folds the history
        return []
    try:
        views_at(entries[-1].position)
    except UnfoldableEvent as exc:
        return [Finding("integrity.figures", CRITICAL, f"no published figures can be computed: event {exc}",
                        f"无法计算公布的数字：事件 {exc.where} 无法读取：{exc.why_zh}", (exc.entry.ref(),))]
    return [Finding("integrity.figures", WARNING, "the bundle carries no published figures (the exporting ledger "
                    "could not read them), though the verified events fold", "审计包中没有公布的数字（导出时账本无法读取），"
                    "但已核验的事件可以折叠")]


def _judge(entries: Sequence[Entry], principals: dict, bundle: Bundle, origin: str | None, reference: Any,
           anchor: int, run_rules: bool) -> tuple[ViewsAt, list[Finding], int, list[Finding], bytes | None]:
    """The published figures recomputed and the rule checks run over a history: the views, the
    figure findings, how many reports matched, the rule findings, and the rules' state at leaf
    ``anchor`` (when one is asked for)."""
    views_at = fresh_views(entries, origin, reference)
    figure_findings, matched = compare_figures(views_at, bundle.figures)
    rule_run, rules_state, rule_findings = RuleRun(), None, []
    if run_rules or anchor:
        before = _split(entries, anchor)
        rule_run.feed(entries[:before], principals)
        rules_state = msgspec.msgpack.encode(rule_run.dump()) if anchor else None
        rule_run.feed(entries[before:], principals)
        if run_rules:
            rule_findings = rule_run.finish(principals)
    return views_at, figure_findings, matched, rule_findings, rules_state


def _split(entries: Sequence[Entry], leaves: int) -> int:
    """How many entries lie below leaf ``leaves``."""
    return next((i for i, e in enumerate(entries) if e.leaf_index >= leaves), len(entries))


def _image(views_at: ViewsAt, position: int, result: AuditResult) -> bytes | None:
    """The views' database at ``position`` for the state (None, with the reason kept, if they cannot be folded)."""
    try:
        return views_at(position).image()
    except UnfoldableEvent as exc:
        result.state_error = f"the views cannot be folded at event {exc}; no audit state saved 视图无法折叠"
        return None


def _keep_state(result: AuditResult, origin: str | None, rows: Sequence[StoredRow], frontier: merkle.Frontier,
                last_leaf: bytes, checkpoint: bytes, known: list[list], directory: list[list],
                streams: dict[str, Any], image: bytes | None, rules_state: bytes | None) -> None:
    """Put the state at ``frontier.size`` leaves into ``result``: ``rows`` are the leaves audited since
    the previous state (all of them in a full audit) up to it; ``directory`` and ``streams`` what the
    leaves before them left."""
    position = rows[-1].position if rows else None
    if image is None:
        return
    if origin is None or position is None or rules_state is None:
        result.state_error = "nothing to save 无可保存的审计状态"
        return
    streams = stream_versions(rows, {s: tuple(v) for s, v in streams.items()})
    body = {
        "frontier": [[level, digest] for level, digest in frontier.parts],
        "last_leaf": last_leaf,
        "checkpoints": known,
        "directory": directory + [[r.position, r.stream, r.version, r.type, r.state]
                                  for r in rows if r.stream == DIRECTORY_ID],
        "streams": {s: list(v) for s, v in streams.items()},
        "views": image,
        "rules": rules_state,
    }
    result.state = AuditState(origin, frontier.size, frontier.root(), position, checkpoint, body)


def resume(state: AuditState, bundle: Bundle, *, reference: Any, log_key: VerifierKey | None = None,
           root_key: VerifierKey | None = None, witnesses: Sequence[VerifierKey] = (), workers: int | None = None,
           progress: Progress | None = None, save_state: bool = False) -> AuditResult:
    """Audit the events after a saved state. ``bundle.rows`` start at leaf ``state.tree_size - 1`` (the
    state's last leaf, which must still be there, unchanged). Raises StateMismatch when the log does
    not extend the state."""
    body, size = state.body, state.tree_size
    rows = bundle.rows
    if bundle.origin is not None and bundle.origin != state.origin:
        raise StateMismatch(f"the state is of {state.origin!r}, the log of {bundle.origin!r} 账本名不符")
    if bundle.first_leaf != size - 1 or not rows or rows[0].position != state.position \
            or merkle.leaf_hash(rows[0].state) != body["last_leaf"]:
        raise StateMismatch(f"the log no longer holds the state's last audited event (leaf {size - 1}, #{state.position}) "
                            "as it was: it is truncated or rewritten 日志已被截断或改写，不含审计状态的最后一条事件")
    tail = rows[1:]
    prefix = Prefix(size, [StoredRow(*d) for d in body["directory"]], state.position,
                    {s: tuple(v) for s, v in body["streams"].items()})
    replayed = replay(tail, prefix=prefix, workers=workers, progress=progress)
    origin = replayed.origin
    if origin != state.origin:
        raise StateMismatch(f"the state is of {state.origin!r}, the log's genesis names {origin!r} 账本名不符")
    findings = _damaged(bundle) + _origin_findings(bundle, origin)
    pin_findings, log_keys = _pinned(replayed.keys, origin, log_key, root_key)
    findings += pin_findings + replayed.findings

    known = {s: root for s, root in body["checkpoints"]}
    heads, witnessed = [], {}
    for declared, note in bundle.checkpoints:
        try:
            checkpoint = open_signed(note, log_keys)
        except CheckpointError as exc:
            findings.append(Finding("integrity.checkpoint", CRITICAL, f"checkpoint of size {declared} does not verify: "
                                    f"{exc}", f"大小为 {declared} 的检查点签名无效", details={"tree_size": declared}))
            continue
        head = SignedHead(checkpoint, note, "bundle")
        heads.append(head)
        witnessed[checkpoint.size] = cosigners(head, witnesses, findings)
    findings += _witness_findings(bundle, witnesses, witnessed, True)
    leaves = size + len(tail)
    wanted = {h.checkpoint.size for h in heads if size < h.checkpoint.size <= leaves}
    frontier = merkle.Frontier([(level, digest) for level, digest in body["frontier"]], size)
    at: dict[int, merkle.Frontier] = {size: merkle.Frontier(frontier.parts, size)}
    for row in tail:
        frontier.append(merkle.leaf_hash(row.state))
        if frontier.size in wanted:
            at[frontier.size] = merkle.Frontier(frontier.parts, frontier.size)
    mismatched = []
    for head in heads:
        c = head.checkpoint
        if c.size < size:
            if c.size in known and known[c.size] != c.root:
                findings.append(Finding("integrity.consistency", CRITICAL, f"the checkpoint of size {c.size} has another "
                                        "root than the one the audited state verified (split view)",
                                        f"大小为 {c.size} 的检查点与审计状态中的根哈希不同（分叉视图）"))
            elif c.size not in known:
                findings.append(Finding("integrity.checkpoint", WARNING, f"the checkpoint of size {c.size} precedes the "
                                        "audited state and is new to it: not checked against the tree",
                                        f"大小为 {c.size} 的检查点早于审计状态，未核对"))
        elif c.size > leaves:
            findings.append(Finding("integrity.truncated", CRITICAL, f"the checkpoint of size {c.size} commits to "
                                    f"{c.size} events but the log has {leaves}",
                                    f"检查点承诺 {c.size} 条事件，日志仅有 {leaves} 条：末尾被截断",
                                    (ref(rows[-1], leaves - 1),), details={"tree_size": c.size, "leaves": leaves}))
        elif at[c.size].root() != c.root:
            mismatched.append(c.size)
    if mismatched:
        problem = (f"the log does not extend the audited state (size {size}): the checkpoint of size "
                   f"{max(mismatched)} signs a root that the state's Merkle frontier and the {max(mismatched) - size} "
                   "events after it do not give")
        if not replayed.findings:
            raise StateMismatch(problem + " — the history before the state's checkpoint was rewritten "
                                "日志不是审计状态的延续：检查点之前的历史被改写")
        findings.append(Finding("integrity.rewritten", CRITICAL, problem, "日志与检查点不符：审计状态之后的事件被改动",
                                details={"tree_size": max(mismatched), "state_size": size}))

    anchor = max((s for s in at if s not in mismatched), default=size) if save_state else size
    views_at = continued_views(body["views"], state.position, replayed.entries, origin, reference)
    image = None
    if save_state and anchor > size:  # the views at the new anchor, before any report folds past it
        probe = AuditResult(origin, 0, 0, 0, 0, 0, 0, [])
        image = _image(views_at, tail[anchor - size - 1].position, probe)
        state_error = probe.state_error
    figure_findings, matched = compare_figures(views_at, bundle.figures)
    page_findings, pages_matched = compare_pages(views_at, bundle.pages)
    findings += figure_findings + page_findings
    rule_run = RuleRun.load(msgspec.msgpack.decode(body["rules"]))
    before = _split(replayed.entries, anchor)
    rule_run.feed(replayed.entries[:before], replayed.principals)
    rules_state = msgspec.msgpack.encode(rule_run.dump()) if save_state else None
    rule_run.feed(replayed.entries[before:], replayed.principals)
    findings += rule_run.finish(replayed.principals)
    result = AuditResult(origin, leaves, replayed.verified_signatures, len(bundle.checkpoints), size,
                         len(bundle.figures), matched, findings, witnessed, replayed,
                         pages_checked=len(bundle.pages), pages_matched=pages_matched)
    if save_state and result.ok:
        if anchor == size:
            result.state = state
        else:
            checkpoint = next(h.note for h in heads if h.checkpoint.size == anchor)
            known_now = [[s, r] for s, r in known.items()] + [[h.checkpoint.size, h.checkpoint.root] for h in heads
                                                               if size < h.checkpoint.size <= anchor]
            result.state_error = state_error
            _keep_state(result, origin, tail[: anchor - size], at[anchor],
                        merkle.leaf_hash(tail[anchor - size - 1].state), checkpoint, known_now, body["directory"],
                        body["streams"], image, rules_state)
    return result
