"""Reference data (street-towns and service domains) loaded from a TOML data file, never from code."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ledger.errors import InvalidInput, UnknownReference
from ledger.messages import Msg, codes, msg, term


@dataclass(frozen=True)
class Named:
    """A coded reference item with its Chinese and English names."""

    code: str
    """Stable ASCII code, used in events and account names."""
    name_zh: str
    """Chinese name, shown first."""
    name_en: str
    """English name."""


@dataclass(frozen=True)
class ReferenceData:
    """One district's street-towns (街镇) and service domains (服务领域)."""

    district: Named
    street_towns: tuple[Named, ...]
    domains: tuple[Named, ...]
    organisations_per_community_target: int

    def street_town(self, code: str, *, field: str = "street_town") -> Named:
        """The street-town with this code, or UnknownReference naming the field."""
        return _find(self.street_towns, code, field, term("street-town"))

    def domain(self, code: str, *, field: str = "domain") -> Named:
        """The service domain with this code, or UnknownReference naming the field."""
        return _find(self.domains, code, field, term("service domain"))


def _find(items: tuple[Named, ...], code: str, field: str, kind: Msg) -> Named:
    for item in items:
        if item.code == code:
            return item
    raise UnknownReference(field, msg("unknown {kind} {code} (known: {known})", kind=kind, code=repr(code),
                                      known=codes(i.code for i in items)))


def load_reference(path: str | Path | None = None) -> ReferenceData:
    """Load a district's reference file; without a path, the embedded Changning file."""
    if path is None:
        return _embedded()
    return _parse(Path(path).read_bytes(), str(path))


@lru_cache(maxsize=1)
def _embedded() -> ReferenceData:
    data = resources.files("ledger.data").joinpath("changning.toml").read_bytes()
    return _parse(data, "changning.toml")


def _parse(raw: bytes, source: str) -> ReferenceData:
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
        district = doc["district"]

        def named(entry: dict) -> Named:
            return Named(code=entry["code"], name_zh=entry["name_zh"], name_en=entry["name_en"])

        ref = ReferenceData(
            district=named(district),
            street_towns=tuple(named(e) for e in doc["street_towns"]),
            domains=tuple(named(e) for e in doc["domains"]),
            organisations_per_community_target=int(district.get("organisations_per_community_target", 12)),
        )
    except (KeyError, TypeError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput("reference_file", msg("{source} is not a valid reference file (TOML with street_towns "
                                                  "and domains)", source=source)) from exc
    for group in (ref.street_towns, ref.domains):
        codes = [i.code for i in group]
        if len(set(codes)) != len(codes) or not all(c.isascii() and c.replace("_", "").isalnum() for c in codes):
            raise InvalidInput("reference_file", msg("{source}: codes must be unique ASCII words", source=source))
    return ref
