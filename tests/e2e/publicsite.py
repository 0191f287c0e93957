"""A served ledger as an anonymous visitor meets it, for the hardening tests (issue 17): the log key
where ``wushe init`` puts it, a donation by someone who did not consent to be named, one by a
business that did, and a volunteer's service session, with a holder's receipt of each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import ApiSettings
from ledger.receipts import issue_receipt
from ledger.signing import SigningKey

TOWN = "xianxiaxincun"
PRIVATE_DONOR = "张小明"
VOLUNTEER_NAME, VOLUNTEER_NUMBER = "李四", "V20260105"
UNLIMITED = ApiSettings(public_rate="100000/minute", auth_rate="100000/minute")


@dataclass
class PublicSite:
    client: TestClient
    cast: Any
    private: int
    """Log position of 张小明's donation (not named publicly)."""
    public: int
    """Log position of 某公司's donation (named, with consent)."""
    service: int
    """Log position of 李四's service session."""

    @property
    def ledger(self):
        return self.cast.ledger

    def receipt(self, position: int) -> dict:
        """The holder's receipt, as ``wushe receipt`` issues it (signing a checkpoint if need be)."""
        return issue_receipt(self.ledger, position, self.client.app.state.log_actor)

    def written(self) -> tuple[int, list[int]]:
        """What the store holds that only writers add: the last event and the checkpoints."""
        return self.ledger.recorder.max_notification_id() or 0, self.ledger.checkpoints.sizes()


def seed(cast) -> tuple[int, int, int]:
    led = cast.ledger
    key = SigningKey.generate(led.origin)
    led.register_principal(cast.root, led.origin, "账本日志", ["log"], key=key.verifier)
    key.write(led.settings.resolved_key_dir)
    led.open_fund(cast.accountant, "GEN", "综合基金", "CNCF", street_town=TOWN)
    private = led.record_donation(cast.accountant, "GEN", 120_050, donor_type="resident", donor_name=PRIVATE_DONOR)
    public = led.record_donation(cast.accountant, "GEN", 30_000, donor_type="business", donor_name="某公司",
                                 donor_public=True)
    led.register_volunteer(cast.recorder, VOLUNTEER_NUMBER, VOLUNTEER_NAME, TOWN, registered_on=date(2026, 1, 5))
    service = led.record_hours(cast.recorder, VOLUNTEER_NUMBER, organisation="LELING", domain="elderly_care",
                               on=date(2026, 11, 1), start=time(9, 0), end=time(10, 30), content="送餐")
    return private.positions[0], public.positions[0], service.positions[0]


@pytest.fixture(name="public_site")
def public_site_fixture(cast):
    positions = seed(cast)
    app = create_app(ledger=cast.ledger, api_settings=UNLIMITED)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield PublicSite(client, cast, *positions)
