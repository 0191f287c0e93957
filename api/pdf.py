"""HTML to PDF with headless Chromium: the one printer of the findings report, donation receipts
and certificates. Chinese text needs a CJK font such as Debian's ``fonts-noto-cjk`` (the pages ask
for Noto Sans CJK SC first); Chromium embeds the subset it uses, so the PDF reads anywhere.

The page is printed from a file in a private scratch directory, with its own browser profile, and
loads nothing from the network (every page this project prints inlines its styles and images).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

PRINT_TIMEOUT = 120
"""Seconds one print may take (a month of receipts is one print)."""


class PdfUnavailable(RuntimeError):
    """No headless Chromium to print with, or it failed to print."""


def chromium(browser: str | None = None) -> str:
    """The Chromium executable: the one given, else Debian's (never a downloaded browser)."""
    exe = browser or shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        raise PdfUnavailable("PDF needs headless Chromium (apt-get install chromium fonts-noto-cjk) 生成PDF需要Chromium")
    return exe


def print_pdf(html: str, *, browser: str | None = None) -> bytes:
    """The PDF Chromium prints of an HTML page (its size from the page's CSS ``@page``)."""
    exe = chromium(browser)
    with tempfile.TemporaryDirectory(prefix="wushe-pdf-") as scratch:
        page = Path(scratch) / "page.html"
        target = Path(scratch) / "page.pdf"
        page.write_text(html, encoding="utf-8")
        try:
            done = subprocess.run(
                [exe, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={scratch}/profile",
                 "--no-pdf-header-footer", f"--print-to-pdf={target}", page.as_uri()],
                capture_output=True, text=True, timeout=PRINT_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise PdfUnavailable(f"Chromium did not print within {PRINT_TIMEOUT} s Chromium打印超时") from None
        if done.returncode != 0 or not target.exists():
            raise PdfUnavailable(f"Chromium could not print the page: {done.stderr.strip()[-300:]} Chromium打印失败")
        return target.read_bytes()


def write_pdf(html: str, path: Path, *, browser: str | None = None) -> None:
    path.write_bytes(print_pdf(html, browser=browser))
