"""Directory and keys (名录与密钥): founding the ledger, principals and their keys, organisations."""

from __future__ import annotations

from datetime import date

from ledger.commands.base import Actor, LedgerBase, Recorded
from ledger.commands.checks import check_code, clean, require_text
from ledger.errors import AlreadyExists, InvalidInput
from ledger.messages import codes as _codes
from ledger.messages import msg
from ledger.principals import ACCOUNTANT, ROOT, Directory
from ledger.projects import ORGANISATION_KINDS, Organisation
from ledger.signing import SigningKey, VerifierKey


class DirectoryCommands(LedgerBase):
    """Root founds the ledger and keeps the directory; accountants register organisations."""

    def found(self, root_handle: str, root_name: str, root_key: SigningKey) -> Recorded:
        """Write the genesis event: the directory with its root principal, signed by the root key."""
        if self.is_founded:
            raise AlreadyExists("ledger", self.settings.ledger_name, field="ledger")
        directory = Directory.found(self.settings.ledger_name, root_handle, root_name, root_key.verifier)
        return self._create(Actor(root_handle, root_key), root_handle, directory, "ledger", "ledger")

    def register_principal(
        self, actor: Actor, handle: str, name: str, roles: list[str], *,
        foundation: str | None = None, organisation: str | None = None, key: VerifierKey | None = None,
    ) -> Recorded:
        def body() -> Recorded:
            self.authorise(actor, ROOT)
            if foundation is not None:
                self._require_kind(foundation, ("foundation", "community_foundation"), "foundation")
            if organisation is not None:
                self.organisation(organisation, "organisation")
            directory = self.directory()
            directory.register(handle, name, roles, foundation, organisation)
            if key is not None:
                directory.add_key(handle, key)
            return self._save(actor, handle, directory)

        return self._command(body)

    def add_key(self, actor: Actor, handle: str, key: VerifierKey) -> Recorded:
        def body() -> Recorded:
            self.authorise(actor, ROOT)
            directory = self.directory()
            directory.add_key(handle, key)
            return self._save(actor, key.key_id, directory)

        return self._command(body)

    def rotate_key(self, actor: Actor, handle: str, new_key: VerifierKey) -> Recorded:
        def body() -> Recorded:
            self.authorise(actor, ROOT)
            directory = self.directory()
            directory.rotate_key(handle, new_key)
            return self._save(actor, new_key.key_id, directory)

        return self._command(body)

    def revoke_key(self, actor: Actor, key_id: str, reason: str) -> Recorded:
        def body() -> Recorded:
            self.authorise(actor, ROOT)
            directory = self.directory()
            directory.revoke_key(key_id, reason)
            return self._save(actor, key_id, directory)

        return self._command(body)

    def register_organisation(
        self, actor: Actor, code: str, name: str, kind: str, street_town: str, *,
        community: str | None = None, credit_code: str | None = None, registered_on: date | None = None,
    ) -> Recorded:
        self.authorise(actor, ACCOUNTANT, ROOT)
        check_code(code, "code")
        require_text(name, "name")
        if kind not in ORGANISATION_KINDS:
            raise InvalidInput("kind", msg("choose from {choices}", choices=_codes(ORGANISATION_KINDS)))
        self.reference.street_town(street_town)
        on = self._business_date(registered_on, "registered_on")
        organisation = Organisation(
            code=code, name=name.strip(), kind=kind, street_town=street_town, community=clean(community, "community"),
            credit_code=clean(credit_code, "credit_code"), registered_on=on.isoformat(),
        )
        return self._create(actor, code, organisation, "organisation", "code")

