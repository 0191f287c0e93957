"""The message catalogue (ledger/messages.py): every text the code marks with ``msg`` or ``term`` has
its Chinese in the zh-CN catalogue, with the same placeholders, no English word of the code left in
it, and the English holds no Chinese, no full-width punctuation and no "a approved"."""

from __future__ import annotations

import functools
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from ledger.messages import CATALOGUE, KEYWORDS, Msg, msg, term, translations

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ledger", "api", "audits", "projections", "wushe")

ALLOWED_LATIN = {
    # names of formats, standards and tools a Chinese reader meets as they are
    "JSON", "UTF", "Unicode", "base64", "API", "HTTP", "URL", "CSV", "XLSX", "PDF", "RFC", "Ed25519", "SQL",
    "SQLite", "PostgreSQL", "QR", "Merkle", "C2SP", "ID", "PIPL", "wushe", "Idempotency", "Key",
    "DIR", "CLI", "hledger", "ledger", "ASCII", "TOML",
}
"""Latin words a Chinese message may keep (besides placeholders, `code`, --options and WUSHE_ names)."""


@functools.cache
def extracted() -> dict[str, list[str]]:
    """Every message the code marks, with where it is."""
    found: dict[str, list[str]] = {}
    for package in PACKAGES:
        for filename, lineno, message, _comments, _context in extract_from_dir(
            ROOT / package, keywords=KEYWORDS, method_map=[("**.py", "python")]
        ):
            if isinstance(message, str) and message:
                found.setdefault(message, []).append(f"{package}/{filename}:{lineno}")
    return found


def placeholders(text: str) -> set[str]:
    return {f"{name}!{conversion}" if conversion else name
            for _, name, _, conversion in string.Formatter().parse(text) if name is not None}


def latin_words(zh: str) -> list[str]:
    text = re.sub(r"\{[^}]*\}|`[^`]*`|--[a-z][a-z-]*|\bWUSHE_[A-Z_]+\b|'[^']*'|\"[^\"]*\"", " ", zh)
    words = re.findall(r"[A-Za-z][A-Za-z0-9_.+-]*[A-Za-z0-9]|[A-Za-z]{2,}", text)
    return [w for w in words if w not in ALLOWED_LATIN and w.split("-")[0] not in ALLOWED_LATIN]


def test_every_marked_text_has_a_finished_chinese_translation():
    done = translations()
    missing = {m: where[0] for m, where in extracted().items() if m not in done}
    assert not missing, f"run `make messages` and translate in {CATALOGUE.relative_to(ROOT)}: {missing}"


def test_the_catalogue_holds_no_text_the_code_no_longer_has():
    with CATALOGUE.open("rb") as handle:
        catalog = read_po(handle)
    stale = [m.id for m in catalog if m.id and m.id not in extracted()]
    assert not stale, f"run `make messages` (it drops them): {stale}"


def test_translations_keep_the_placeholders_and_no_english_words():
    problems = []
    for msgid, zh in translations().items():
        if placeholders(msgid) != placeholders(zh):
            problems.append(f"placeholders differ: {msgid!r} -> {zh!r}")
        if left := latin_words(zh):
            problems.append(f"English left in {zh!r}: {left}")
        if re.search(r"[\u4e00-\u9fff][,:;()]|[,:;()][\u4e00-\u9fff]", re.sub(r"\{[^}]*\}|`[^`]*`", "", zh)):
            problems.append(f"half-width punctuation in Chinese: {zh!r}")
    assert not problems, "\n".join(problems)


def test_english_texts_have_no_chinese_no_full_width_punctuation_and_their_articles_right():
    problems = []
    for msgid in extracted():
        if re.search(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]", msgid):
            problems.append(f"not English: {msgid!r}")
        if re.search(r"\ba [aeio]\w", msgid, re.IGNORECASE):
            problems.append(f"'a' before a vowel: {msgid!r}")
    assert not problems, "\n".join(problems)


def test_a_message_renders_its_terms_in_the_readers_language():
    message = msg("the {role} event is not in the Merkle tree yet", role=term("volunteer"))
    assert message.en == "the volunteer event is not in the Merkle tree yet"
    assert message.zh == "志愿者事件尚未进入默克尔树"
    assert Msg("a text nobody translated").zh == "a text nobody translated"  # shown, never a crash


@pytest.mark.parametrize("zh, left", [("基金 fund 不存在", ["fund"]), ("收据不是有效的 JSON", []),
                                      ("`wushe init` 从不覆盖 {path}", []), ("校验失败：not JSON", ["not", "JSON"][:1])])
def test_the_english_word_check_itself(zh, left):
    assert latin_words(zh) == left
