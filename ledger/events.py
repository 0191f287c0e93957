"""The one place that lists event types: every aggregate, its events, and their stable names.

A type name is ``<Aggregate>.<Event>`` (``Fund.DonationReceived``); it is what the store's topic
column holds and what the signature covers, so renaming a Python module never changes history.
"""

from __future__ import annotations

from eventsourcing.utils import get_topic

from ledger.aggregate import LedgerAggregate
from ledger.disbursements import Disbursement
from ledger.funds import Fund
from ledger.principals import Directory
from ledger.projects import Organisation, Project
from ledger.volunteers import Volunteer

AGGREGATES: tuple[type[LedgerAggregate], ...] = (Directory, Organisation, Fund, Project, Disbursement, Volunteer)

_BY_NAME: dict[str, type[LedgerAggregate.Event]] = {}
_BY_CLASS: dict[type, str] = {}
_AGGREGATE_TOPIC: dict[str, str] = {}

for _aggregate in AGGREGATES:
    for _name, _value in vars(_aggregate).items():
        if (
            isinstance(_value, type)
            and issubclass(_value, LedgerAggregate.Event)
            and _name not in ("Event", "Created")
        ):
            _type_name = f"{_aggregate.__name__}.{_name}"
            _BY_NAME[_type_name] = _value
            _BY_CLASS[_value] = _type_name
            _AGGREGATE_TOPIC[_type_name] = get_topic(_aggregate)

EVENT_TYPES: tuple[str, ...] = tuple(sorted(_BY_NAME))

MONEY_EVENTS = frozenset(
    {
        "Fund.DonationReceived",
        "Fund.GrantReceived",
        "Fund.AllocatedOut",
        "Fund.AllocatedIn",
        "Fund.RestrictionReleased",
        "Fund.Paid",
        "Fund.Reversed",
        "Fund.GoodsDistributed",
        "Fund.OtherIncomeReceived",
        "Fund.ContractPaymentReceived",
        "Fund.ServiceDelivered",
        "Fund.Terminated",
    }
)
"""Events that carry balanced postings."""

REVERSIBLE = frozenset(
    {
        "Fund.DonationReceived",
        "Fund.GrantReceived",
        "Fund.AllocatedOut",
        "Fund.AllocatedIn",
        "Fund.RestrictionReleased",
        "Fund.Paid",
        "Fund.GoodsDistributed",
        "Fund.OtherIncomeReceived",
        "Fund.ContractPaymentReceived",
        "Fund.ServiceDelivered",
        "Disbursement.Paid",
        "Volunteer.ServiceRecorded",
    }
)
"""Events a correction (更正) can reverse."""


def type_name(event_class: type) -> str:
    return _BY_CLASS[event_class]


def event_class(name: str) -> type[LedgerAggregate.Event]:
    return _BY_NAME[name]


def aggregate_topic(name: str) -> str:
    """The eventsourcing topic of the aggregate an event type belongs to."""
    return _AGGREGATE_TOPIC[name]


def is_created(name: str) -> bool:
    return issubclass(_BY_NAME[name], LedgerAggregate.Created)
