"""Reference data lives in data files: the embedded Changning file, or another district's own."""

from __future__ import annotations

import pytest

from ledger.errors import InvalidInput, UnknownReference
from ledger.reference import load_reference

CHANGNING_STREET_TOWNS = {
    "华阳路街道", "江苏路街道", "新华路街道", "周家桥街道", "天山路街道",
    "仙霞新村街道", "虹桥街道", "程家桥街道", "北新泾街道", "新泾镇",
}
PLAN_DOMAINS = {"养老服务", "社会救助", "儿童福利", "婚姻殡葬", "社区治理"}

OTHER_DISTRICT = """
[district]
code = "xuhui"
name_zh = "徐汇区"
name_en = "Xuhui District"
organisations_per_community_target = 15

[[street_towns]]
code = "tianping"
name_zh = "天平路街道"
name_en = "Tianping Road Subdistrict"

[[street_towns]]
code = "xujiahui"
name_zh = "徐家汇街道"
name_en = "Xujiahui Subdistrict"

[[domains]]
code = "elderly_care"
name_zh = "养老服务"
name_en = "Elderly care"
"""


def test_embedded_changning_has_the_ten_street_towns_and_five_domains():
    ref = load_reference()
    assert ref.district.code == "changning"
    assert ref.district.name_zh == "长宁区"
    assert len(ref.street_towns) == 10
    assert {s.name_zh for s in ref.street_towns} == CHANGNING_STREET_TOWNS
    assert len(ref.domains) == 5
    assert {d.name_zh for d in ref.domains} == PLAN_DOMAINS
    assert ref.organisations_per_community_target == 12
    for item in (*ref.street_towns, *ref.domains):
        assert item.code.isascii() and item.name_en


def test_lookup_by_code():
    ref = load_reference()
    assert ref.street_town("xianxiaxincun").name_zh == "仙霞新村街道"
    assert ref.street_town("xinjing").name_zh == "新泾镇"
    assert ref.domain("elderly_care").name_zh == "养老服务"


def test_another_district_loads_from_its_own_file(tmp_path):
    path = tmp_path / "xuhui.toml"
    path.write_text(OTHER_DISTRICT, encoding="utf-8")
    ref = load_reference(path)
    assert ref.district.name_zh == "徐汇区"
    assert [s.code for s in ref.street_towns] == ["tianping", "xujiahui"]
    assert ref.street_town("xujiahui").name_zh == "徐家汇街道"
    assert ref.organisations_per_community_target == 15
    # Changning's codes are not Xuhui's.
    with pytest.raises(UnknownReference):
        ref.street_town("xianxiaxincun")
    # ... and loading a file leaves the embedded default untouched.
    assert len(load_reference().street_towns) == 10


def test_unknown_codes_name_the_field():
    ref = load_reference()
    with pytest.raises(UnknownReference) as err:
        ref.street_town("pudong")
    assert err.value.field == "street_town"
    assert err.value.rule == "unknown-reference"
    assert "pudong" in err.value.message
    with pytest.raises(UnknownReference) as err:
        ref.domain("space_travel", field="domains")
    assert err.value.field == "domains"
    with pytest.raises(UnknownReference) as err:
        ref.domain("养老服务")  # the Chinese name is not the code
    assert err.value.field == "domain"


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("this is = not [toml", id="not-toml"),
        pytest.param(OTHER_DISTRICT.replace("[district]", "[county]"), id="no-district"),
        pytest.param(OTHER_DISTRICT.split("[[domains]]")[0], id="no-domains"),
        pytest.param(OTHER_DISTRICT.replace('name_en = "Xujiahui Subdistrict"', ""), id="missing-name"),
        pytest.param(OTHER_DISTRICT.replace('code = "xujiahui"', 'code = "tianping"'), id="duplicate-code"),
        pytest.param(OTHER_DISTRICT.replace('code = "xujiahui"', 'code = "徐家汇"'), id="non-ascii-code"),
        pytest.param(OTHER_DISTRICT.replace('code = "xujiahui"', 'code = "xu jia"'), id="space-in-code"),
        pytest.param(OTHER_DISTRICT.replace("= 15", '= "many"'), id="bad-target"),
    ],
)
def test_malformed_files_raise_invalid_input(tmp_path, content):
    path = tmp_path / "bad.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInput) as err:
        load_reference(path)
    assert err.value.field == "reference_file"


def test_non_utf8_file_raises_invalid_input(tmp_path):
    path = tmp_path / "gbk.toml"
    path.write_bytes(OTHER_DISTRICT.encode("gbk"))
    with pytest.raises(InvalidInput):
        load_reference(path)
