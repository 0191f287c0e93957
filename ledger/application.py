"""The ledger application (``Ledger``): one façade over the command contexts of ``ledger.commands``.

Every command checks who is acting and the rules, then saves all the aggregates it touched in one
transaction, every event signed by the acting principal's key. Each context keeps its commands in
its own module; they share one event store, one log and one directory through ``LedgerBase``."""

from __future__ import annotations

from ledger.commands.accounting import AccountingCommands
from ledger.commands.base import CHINA_STANDARD_TIME, Actor, LedgerBase, Recorded, system_clock
from ledger.commands.corrections import CorrectionCommands
from ledger.commands.directory import DirectoryCommands
from ledger.commands.funds import Donation, FundCommands
from ledger.commands.imports import ImportCommands
from ledger.commands.log import LogCommands
from ledger.commands.projects import ProjectCommands
from ledger.commands.volunteers import VolunteerCommands
from ledger.errors import LedgerError


class Ledger(DirectoryCommands, FundCommands, ProjectCommands, VolunteerCommands, CorrectionCommands, LogCommands,
             ImportCommands, AccountingCommands):
    """Wushe Ledger (五社账本): funds, donations, disbursements, projects and volunteer hours."""

    name = "WusheLedger"


__all__ = ["CHINA_STANDARD_TIME", "Actor", "Donation", "Ledger", "LedgerBase", "LedgerError", "Recorded",
           "system_clock"]
