"""The printable receipt or certificate page, with a QR code carrying its short verification link."""

from __future__ import annotations

from pathlib import Path

import segno
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.i18n import format_date
from ledger.money import format_cny
from ledger.receipts import Standing, VerifiedReceipt
from projections.donations import mask_name

CSS = Path(__file__).parent / "static" / "receipt.css"
_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape())
_env.filters["cny"] = format_cny
_env.filters["zh_date"] = lambda value: format_date(value, "zh")
_env.filters["en_date"] = lambda value: format_date(value, "en")


def render_receipt_page(receipt: dict, verified: VerifiedReceipt, public_url: str, *, public: bool,
                        standing: Standing | None = None, contact: str | None = None) -> str:
    """HTML for printing: what was recorded, where it sits in the log, and a QR code to check it.

    ``public`` pages (served to whoever holds the link) mask donors and volunteers who did not
    consent to be named and carry no volunteer number; the holder's own printout (``wushe receipt
    --html``) names them."""
    link = public_url.rstrip("/") + receipt["verify_path"]  # the receipt was issued here, not pasted
    qr = segno.make(link, error="m").svg_inline(scale=4, dark="#111", light="#fff")
    payload = verified.record.payload
    return _env.get_template("receipt.html").render(
        receipt=receipt, verified=verified, payload=payload, link=link, qr=qr, public=public,
        # the served page links its stylesheet (no inline style under the CSP); a file on disk carries it
        css=None if public else CSS.read_text(),
        donor=mask_name(payload.get("donor_name"), not public or bool(payload.get("donor_public"))),
        volunteer=verified.volunteer, standing=standing, contact=contact,
        volunteer_name=mask_name((verified.volunteer or {}).get("name"),
                                 not public or bool((verified.volunteer or {}).get("name_public"))),
    )
