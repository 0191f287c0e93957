"""The findings report (审计发现报告): JSON for machines, HTML for people; each finding with its
rule, severity and event references, summed up per street-town and per fund."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from api import pdf
from api.pdf import PdfUnavailable  # noqa: F401  (wushe audit catches it from here)
from audits.findings import SEVERITIES, SEVERITY_NAMES
from audits.verify import AuditResult

FORMAT = "wushe-audit-findings/v1"
SHANGHAI = timezone(timedelta(hours=8))
"""Times in the report are Beijing time (UTC+8), as everything else the ledger shows people."""
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _summary(findings, key: str) -> list[dict[str, Any]]:
    groups: dict[str, Counter] = defaultdict(Counter)
    for f in findings:
        groups[getattr(f, key) or "—"][f.severity] += 1
    return [{key: name, **{s: counts.get(s, 0) for s in SEVERITIES}, "total": sum(counts.values())}
            for name, counts in sorted(groups.items())]


def document(result: AuditResult, *, source: str, reference: Any = None) -> dict[str, Any]:
    """The report as one JSON-ready document; with the reference data, street-towns get their names."""
    order = {s: i for i, s in enumerate(SEVERITIES)}
    findings = sorted(result.findings, key=lambda f: (order[f.severity], f.rule,
                                                      f.events[0].position or 0 if f.events else 0))
    return {
        "format": FORMAT,
        "source": source,
        "generated_at": datetime.now(SHANGHAI).isoformat(timespec="seconds"),
        "summary": result.summary(),
        "by_street_town": _named(_summary(findings, "street_town"), reference),
        "by_fund": _summary(findings, "fund"),
        "findings": [f.as_json() for f in findings],
    }


def _named(rows: list[dict[str, Any]], reference: Any) -> list[dict[str, Any]]:
    names = {t.code: t for t in reference.street_towns} if reference is not None else {}
    for row in rows:
        town = names.get(row["street_town"])
        row["name_zh"], row["name_en"] = (town.name_zh, town.name_en) if town else (None, None)
    return rows


def write_json(doc: dict[str, Any], path: Path) -> None:
    import json

    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def summary_lines(s: dict, *, resumed: bool = False) -> tuple[str, str]:
    """The audit's counts in Chinese and in English; they add up to the events of the log."""
    prefix, prefix_zh = ("audited state", "审计状态") if resumed else ("trusted prefix", "信任前缀")
    unchecked, size, bad_directory = s.get("trusted_unchecked", 0), s["trusted_size"], s.get("directory_failed", 0)
    severities = ", ".join(f"{n} {name}" for name, n in s["by_severity"].items()) or "none"
    severities_zh = "、".join(f"{SEVERITY_NAMES[name][0]} {n} 条" for name, n in s["by_severity"].items()) or "无"
    zh_directory = f"（{bad_directory} 条未通过）" if bad_directory else ""
    en_directory = f" ({bad_directory} failed)" if bad_directory else ""
    zh_unchecked = f"；{unchecked} 条在{prefix_zh}（大小 {size}）之内，不再重验" if unchecked else ""
    en_unchecked = f", {unchecked} in the {prefix} ({size}) not checked again" if unchecked else ""
    zh = (f"共 {s['events']} 条事件：{s['directory_events']} 条目录事件由根密钥核验{zh_directory}，"
          f"其余 {s['signatures_checked']} 条事件核验签名，{s['verified_signatures']} 条通过、"
          f"{s['failed_signatures']} 条未通过{zh_unchecked}；检查点 {s['checkpoints']} 个"
          f"（{s['witnessed_checkpoints']} 个经受信见证方副署）；公布报告 {s['reports_matched']}/{s['reports_checked']} 份重算一致；"
          f"发现：{severities_zh}")
    en = (f"{s['events']} events: {s['directory_events']} directory events checked with the root key{en_directory}, "
          f"{s['verified_signatures']} signatures verified of the {s['signatures_checked']} other events "
          f"({s['failed_signatures']} failed){en_unchecked}; {s['checkpoints']} checkpoints "
          f"({s['witnessed_checkpoints']} cosigned by a trusted witness), {s['reports_matched']}/{s['reports_checked']} "
          f"published reports reproduced; findings: {severities}")
    return zh, en


def shanghai_time(stamp: str) -> tuple[str, str]:
    """An ISO timestamp as people read it in Chinese and English, in Beijing time."""
    try:
        at = datetime.fromisoformat(stamp).astimezone(SHANGHAI)
    except (TypeError, ValueError):
        return stamp, stamp
    return (f"{at.year}年{at.month}月{at.day}日 {at:%H:%M}（北京时间 UTC+8）",
            f"{at.day} {_MONTHS_EN[at.month - 1]} {at.year}, {at:%H:%M} (Beijing time, UTC+8)")


def render_html(doc: dict[str, Any]) -> str:
    env = Environment(loader=PackageLoader("audits", "templates"), autoescape=select_autoescape(["html"]))
    s = doc["summary"]
    counts = summary_lines(s, resumed=False) if "directory_events" in s else None
    return env.get_template("findings.html").render(doc=doc, severities=SEVERITIES, names=SEVERITY_NAMES,
                                                     generated=shanghai_time(doc["generated_at"]), counts=counts)


def write_html(doc: dict[str, Any], path: Path) -> None:
    path.write_text(render_html(doc), encoding="utf-8")


def write_pdf(doc: dict[str, Any], path: Path, *, browser: str | None = None) -> None:
    """Print the HTML report to PDF with headless Chromium (``api.pdf``, the one printer)."""
    pdf.write_pdf(render_html(doc), path, browser=browser)
