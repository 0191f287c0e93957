"""Volunteers (志愿者): registration and service records, kept by the organising body."""

from __future__ import annotations

from datetime import date, time

from ledger.commands.base import Actor, LedgerBase, Recorded
from ledger.commands.checks import check_code, check_imported, require_text
from ledger.principals import ACCOUNTANT, RECORDER
from ledger.volunteers import Volunteer


class VolunteerCommands(LedgerBase):
    """Volunteers and their sessions (谁组织谁记录)."""

    def register_volunteer(
        self, actor: Actor, number: str, name: str, street_town: str, *,
        registered_on: date | None = None, name_public: bool = False,
    ) -> Recorded:
        self.authorise(actor, RECORDER, ACCOUNTANT)
        check_code(number, "number")
        require_text(name, "name")
        self.reference.street_town(street_town)
        volunteer = Volunteer(
            number=number, name=name.strip(), street_town=street_town,
            registered_on=self._business_date(registered_on, "registered_on").isoformat(), name_public=name_public,
        )
        return self._create(actor, number, volunteer, "volunteer", "number")

    def record_hours(
        self, actor: Actor, volunteer: str, *, organisation: str, domain: str, on: date, start: time, end: time,
        content: str, street_town: str | None = None, imported: dict | None = None,
    ) -> Recorded:
        """A service session (志愿服务记录), recorded by the organising body's recorder.
        ``imported``: the row of an uploaded sign-in sheet it came from (``ledger.commands.imports``)."""
        check_imported(imported)
        self.reference.domain(domain)
        host = self.organisation(organisation)
        self.authorise(actor, RECORDER, organisation=organisation)
        town = street_town or host.street_town
        self.reference.street_town(town)
        day = self._business_date(on, "on")
        record = self.new_id()

        def body() -> Recorded:
            person = self.volunteer(volunteer)
            person.record_service(
                record=record, organisation=organisation, street_town=town, domain=domain, on=day,
                start=start, end=end, content=content, imported=imported,
            )
            return self._save(actor, record, person)

        return self._command(body)

