"""The auditor's rebuilt tree gives the same roots and valid proofs as ``ledger.merkle``'s
reference functions, for every size and pair of sizes up to 70 leaves; and the findings report
sums findings up per street-town and fund."""

from __future__ import annotations

from audits.findings import CRITICAL, ERROR, WARNING, EventRef, Finding
from audits.report import _named, _summary, render_html
from audits.tree import LeafTree
from ledger import merkle
from ledger.reference import load_reference

LEAVES = [f"leaf {i}".encode() for i in range(70)]


def test_roots_equal_the_reference_for_every_size():
    tree = LeafTree.of(LEAVES)
    assert tree.size == len(LEAVES)
    for size in range(len(LEAVES) + 1):
        assert tree.root(size) == merkle.root_hash(LEAVES[:size]), size


def test_consistency_proofs_verify_between_every_pair_of_sizes():
    tree = LeafTree.of(LEAVES)
    for old in range(1, len(LEAVES) + 1):
        for new in range(old, len(LEAVES) + 1):
            proof = tree.consistency_proof(old, new)
            assert proof == (merkle.consistency_proof(LEAVES[:new], old) if old < new else [])
            assert merkle.verify_consistency(old, new, tree.root(old), tree.root(new), proof)


def test_summary_per_street_town_and_fund_counts_each_severity():
    ref = (EventRef(7, "fund:SF", 3, "Fund.Paid", 6),)
    findings = [Finding("funds.domain", ERROR, "en", "zh", ref, "xianxiaxincun", "SF"),
                Finding("funds.overdraft", ERROR, "en", "zh", ref, "xianxiaxincun", "GEN"),
                Finding("integrity.modified", CRITICAL, "en", "zh", ref),
                Finding("disclosure.project-reports", WARNING, "en", "zh", (), "hongqiao")]
    assert _summary(findings, "street_town") == [
        {"street_town": "hongqiao", "critical": 0, "error": 0, "warning": 1, "total": 1},
        {"street_town": "xianxiaxincun", "critical": 0, "error": 2, "warning": 0, "total": 2},
        {"street_town": "—", "critical": 1, "error": 0, "warning": 0, "total": 1},
    ]
    assert [row["fund"] for row in _summary(findings, "fund")] == ["GEN", "SF", "—"]
    named = _named(_summary(findings, "street_town"), load_reference())
    assert [row["name_zh"] for row in named] == ["虹桥街道", "仙霞新村街道", None]


def test_html_report_escapes_and_names_the_events():
    doc = {"summary": {"origin": "o", "integrity_ok": False, "events": 1, "verified_signatures": 1, "checkpoints": 0,
                       "trusted_size": 0, "reports_checked": 0, "reports_matched": 0},
           "source": "b", "generated_at": "now", "by_street_town": [], "by_fund": [],
           "findings": [Finding("funds.domain", ERROR, "<script>x</script>", "用途不符",
                                (EventRef(7, "fund:SF", 3, "Fund.Paid", 6),)).as_json()]}
    page = render_html(doc)
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page
    assert "#7 fund:SF v3 Fund.Paid" in page and "完整性校验失败" in page
