"""The stored form of an event: one line of canonical JSON, signed, agreeing with its row."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from ledger.envelope import EnvelopeError, open_sealed, seal
from ledger.signing import SigningKey, canonical_json, make_note

KEY = SigningKey.generate("acct")
WHEN = datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
PAYLOAD = {
    "entry": "e1", "amount": 12345, "donor_name": "张三",
    "postings": [{"account": "Assets:Funds:F", "amount": 12345}],
}
ROW = {"stream": "fund:F", "version": 2, "topic": "Fund.DonationReceived"}


def _sealed(**overrides) -> bytes:
    args = {"stream": "fund:F", "version": 2, "type_name": "Fund.DonationReceived", "timestamp": WHEN,
            "payload": PAYLOAD, "key": KEY}
    args.update(overrides)
    return seal(**args)


def _signed_body(body: dict | str) -> bytes:
    text = body if isinstance(body, str) else canonical_json(body).decode()
    return make_note(text.encode() + b"\n", KEY)


def _body(**overrides) -> dict:
    body = {"payload": PAYLOAD, "stream": "fund:F", "timestamp": WHEN.astimezone(timezone.utc).isoformat(),
            "type": "Fund.DonationReceived", "version": 2}
    body.update(overrides)
    return body


def test_seal_and_open_round_trip():
    state = _sealed()
    opened = open_sealed(state, **ROW)
    assert (opened.stream, opened.version, opened.type_name) == ("fund:F", 2, "Fund.DonationReceived")
    assert opened.payload == PAYLOAD
    assert opened.timestamp == WHEN
    assert opened.timestamp.utcoffset() == timedelta(0)
    assert opened.key_id == KEY.key_id
    assert opened.signed_by(KEY.verifier)
    assert not opened.signed_by(SigningKey.generate("acct").verifier)
    assert not opened.signed_by(SigningKey.generate("other").verifier)


def test_sealed_text_is_one_line_of_canonical_json():
    state = _sealed()
    text, _, _ = state.partition(b"\n\n")
    assert b"\n" not in text
    assert text == canonical_json(json.loads(text))
    assert json.loads(text)["timestamp"] == "2026-03-01T01:30:00.123456+00:00"
    assert "张三".encode() in text


def test_open_accepts_bytes_like_state():
    assert open_sealed(memoryview(_sealed()), **ROW).payload == PAYLOAD


def test_a_changed_payload_byte_no_longer_verifies():
    state = _sealed()
    assert b'"amount":12345' in state
    forged = state.replace(b'"amount":12345', b'"amount":92345', 1)
    opened = open_sealed(forged, **ROW)
    assert opened.payload["amount"] == 92345
    assert not opened.signed_by(KEY.verifier)


@pytest.mark.parametrize("offset", range(0, 200, 7))
def test_any_flipped_byte_of_the_text_is_refused_or_fails_to_verify(offset):
    state = bytearray(_sealed())
    state[offset] ^= 0x01
    try:
        opened = open_sealed(bytes(state), **ROW)
    except EnvelopeError:
        return
    assert not opened.signed_by(KEY.verifier)


def test_a_changed_signature_byte_fails_to_verify():
    state = bytearray(_sealed())
    state[-10] = ord("A") if state[-10] != ord("A") else ord("B")
    opened = open_sealed(bytes(state), **ROW)
    assert not opened.signed_by(KEY.verifier)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(json.dumps(_body(), ensure_ascii=False, sort_keys=True), id="whitespace"),
        pytest.param(json.dumps(_body(), ensure_ascii=True, sort_keys=True, separators=(",", ":")), id="ascii-escapes"),
        pytest.param(
            json.dumps(dict(reversed(list(_body().items()))), ensure_ascii=False, separators=(",", ":")),
            id="unsorted-keys",
        ),
        pytest.param(canonical_json(_body()).decode().replace('"version":2', '"version":2.0'), id="float-version"),
        pytest.param(canonical_json(_body()).decode().replace('"version":2', '"version":2e0'), id="exponent"),
    ],
)
def test_non_canonical_json_is_refused(text):
    with pytest.raises(EnvelopeError):
        open_sealed(_signed_body(text), **ROW)


@pytest.mark.parametrize(
    ("row_field", "value"),
    [("stream", "fund:G"), ("version", 3), ("version", 1), ("topic", "Fund.GrantReceived")],
)
def test_the_row_must_repeat_what_was_signed(row_field, value):
    row = dict(ROW, **{row_field: value})
    with pytest.raises(EnvelopeError):
        open_sealed(_sealed(), **row)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(_body(extra="x"), id="extra-key"),
        pytest.param({k: v for k, v in _body().items() if k != "timestamp"}, id="missing-key"),
        pytest.param(_body(payload=[1, 2]), id="payload-not-object"),
        pytest.param(_body(timestamp="2026-03-01T01:30:00"), id="naive-timestamp"),
        pytest.param(_body(timestamp="yesterday"), id="bad-timestamp"),
        pytest.param([1, 2, 3], id="not-an-object"),
    ],
)
def test_malformed_bodies_are_refused(body):
    with pytest.raises(EnvelopeError):
        open_sealed(_signed_body(body), **ROW)


def test_exactly_one_signature():
    text = canonical_json(_body()) + b"\n"
    with pytest.raises(EnvelopeError):
        open_sealed(make_note(text, KEY, SigningKey.generate("appr")), **ROW)


def test_not_a_note_is_refused():
    with pytest.raises(EnvelopeError):
        open_sealed(canonical_json(_body()) + b"\n", **ROW)


def test_boolean_version_is_not_a_version_number():
    body = _body(version=True)
    with pytest.raises(EnvelopeError):
        open_sealed(_signed_body(body), stream="fund:F", version=1, topic="Fund.DonationReceived")


def test_seal_refuses_naive_timestamps_and_floats():
    with pytest.raises(ValueError):
        _sealed(timestamp=datetime(2026, 3, 1, 9, 30))
    with pytest.raises(TypeError):
        _sealed(payload={"amount": 1.5})
