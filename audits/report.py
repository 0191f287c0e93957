"""The findings report (审计发现报告): JSON for machines, HTML for people; each finding with its
rule, severity and event references, summed up per street-town and per fund."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from audits.findings import SEVERITIES
from audits.verify import AuditResult

FORMAT = "wushe-audit-findings/v1"


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
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
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


def render_html(doc: dict[str, Any]) -> str:
    env = Environment(loader=PackageLoader("audits", "templates"), autoescape=select_autoescape(["html"]))
    return env.get_template("findings.html").render(doc=doc, severities=SEVERITIES)


def write_html(doc: dict[str, Any], path: Path) -> None:
    path.write_text(render_html(doc), encoding="utf-8")


class PdfUnavailable(RuntimeError):
    """No headless Chromium to print the HTML report with."""


def write_pdf(doc: dict[str, Any], path: Path, *, browser: str | None = None) -> None:
    """Print the HTML report to PDF with headless Chromium (``print_pdf``)."""
    print_pdf(render_html(doc), path, browser=browser)


def print_pdf(html: str, path: Path, *, browser: str | None = None) -> None:
    """Print an HTML page to PDF with headless Chromium; Chinese text needs a CJK font such as
    Debian's ``fonts-noto-cjk`` (the pages ask for Noto Sans CJK SC first)."""
    import shutil
    import subprocess
    import tempfile

    exe = browser or shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        raise PdfUnavailable("PDF needs headless Chromium (apt-get install chromium fonts-noto-cjk) 生成PDF需要Chromium")
    with tempfile.TemporaryDirectory(prefix="wushe-pdf-") as scratch:
        page = Path(scratch) / "page.html"
        page.write_text(html, encoding="utf-8")
        done = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={scratch}/profile",
                               "--no-pdf-header-footer", f"--print-to-pdf={path.resolve()}", page.as_uri()],
                              capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0 or not path.exists():
        raise PdfUnavailable(f"Chromium could not print the page: {done.stderr.strip()[-300:]}")
