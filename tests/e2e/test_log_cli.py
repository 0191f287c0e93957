"""The verifiable log from the command line, on SQLite and PostgreSQL: `wushe init` makes the log
key, `wushe checkpoint` signs, receipts verify offline and fail loudly when tampered with, a
witness cosigns, proofs print as JSON that verifies, and bad input exits non-zero without a
traceback."""

from __future__ import annotations

import base64
import json
import re
import stat

import pytest
from typer.testing import CliRunner

from ledger import merkle
from ledger.application import Ledger
from ledger.checkpoints import open_checkpoint, verify_cosignature
from ledger.settings import Settings
from ledger.signing import VerifierKey, parse_note
from wushe.cli import app

runner = CliRunner()
ORIGIN = "wushe.example/changning"
LOG_STEM = "wushe.example_changning"


@pytest.fixture
def wushe(database_url, tmp_path, monkeypatch):
    """Run `wushe` against a fresh ledger with one fund; returns a function taking the arguments."""
    monkeypatch.setenv("WUSHE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WUSHE_DATABASE_URL", database_url)
    monkeypatch.delenv("WUSHE_ACTOR", raising=False)
    monkeypatch.delenv("WUSHE_KEY_DIR", raising=False)

    def run(*args: str, ok: bool = True):
        result = runner.invoke(app, list(args))
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code != 0, result.output
            assert isinstance(result.exception, SystemExit), result.exception  # a message, not a crash
            assert "Traceback" not in result.output
        return result

    run("init")
    run("org", "register", "CNCF", "--name", "长宁区社区基金会", "--kind", "foundation", "--street-town", "xinhualu",
        "--as", "root")
    run("principal", "add", "acct", "--name", "会计", "--role", "accountant", "--foundation", "CNCF", "--as", "root")
    run("fund", "open", "GEN", "--name", "综合基金", "--foundation", "CNCF", "--street-town", "xianxiaxincun",
        "--as", "acct")
    return run


def _donate(wushe, amount: str = "1200.50", name: str = "张小明") -> int:
    result = wushe("donation", "record", "--fund", "GEN", "--amount", amount, "--donor-type", "resident",
                   "--donor-name", name, "--as", "acct")
    return int(re.search(r"#(\d+)", result.output).group(1))


def _note(output: str) -> bytes:
    """The signed checkpoint `wushe checkpoint` prints after its summary line."""
    start = output.index(f"{ORIGIN}\n")
    return output[start:].encode()


def _log_key(tmp_path) -> VerifierKey:
    return VerifierKey.from_vkey((tmp_path / "data" / "keys" / f"{LOG_STEM}.pub").read_text())


def _stored_bytes(database_url: str, tmp_path) -> list[bytes]:
    ledger = Ledger(Settings(data_dir=tmp_path / "data"), database_url=database_url)
    try:
        return [bytes(n.state) for n in ledger.recorder.select_notifications(start=1, limit=10_000)]
    finally:
        ledger.close()


def test_init_makes_the_log_key_and_checkpoint_prints_a_note_it_verifies(wushe, tmp_path, database_url):
    keys = tmp_path / "data" / "keys"
    assert stat.S_IMODE((keys / f"{LOG_STEM}.key").stat().st_mode) == 0o600
    assert (keys / f"{LOG_STEM}.key").read_text().startswith(f"PRIVATE+KEY+{ORIGIN}+")
    log_key = _log_key(tmp_path)
    assert log_key.name == ORIGIN

    first = wushe("checkpoint")
    note = _note(first.output)
    checkpoint, parsed = open_checkpoint(note, log_key)
    leaves = _stored_bytes(database_url, tmp_path)
    assert checkpoint.size == len(leaves) and checkpoint.root == merkle.root_hash(leaves)
    assert [s.name for s in parsed.signatures] == [ORIGIN]
    assert f"size {checkpoint.size}" in first.output

    assert _note(wushe("checkpoint").output) == note  # nothing new: the same checkpoint
    _donate(wushe)
    grown, _ = open_checkpoint(_note(wushe("checkpoint").output), log_key)
    assert grown.size == checkpoint.size + 1

    # only the log key signs checkpoints
    refused = wushe("checkpoint", "--as", "acct", ok=False)
    assert refused.exit_code == 1 and "not-authorised" in refused.output


def test_receipt_verifies_offline_and_a_tampered_copy_does_not(wushe, tmp_path):
    position = _donate(wushe)
    receipt, page = tmp_path / "r.json", tmp_path / "r.html"
    wushe("receipt", str(position), "--out", str(receipt), "--html", str(page))
    html = page.read_text()
    assert "张小明" in html and "<svg" in html and "捐赠收据" in html  # the holder's own printout names them
    assert f"/v/{json.loads(receipt.read_text())['leaf_index']}-" in html

    verified = wushe("verify", "receipt", str(receipt))  # finds <origin>.pub in the key directory
    assert "verified" in verified.output and "¥1,200.50" in verified.output and f"reference #{position}" in verified.output
    pub = tmp_path / "data" / "keys" / f"{LOG_STEM}.pub"
    wushe("verify", "receipt", str(receipt), "--log-key", str(pub))
    wushe("verify", "receipt", str(receipt), "--log-key", pub.read_text().strip())

    doc = json.loads(receipt.read_text())
    record = doc["entries"][0]
    event = base64.b64decode(record["event"])
    record["event"] = base64.b64encode(event.replace(b'"amount":120050', b'"amount":920050')).decode()
    assert record["event"] != json.loads(receipt.read_text())["entries"][0]["event"]
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc, ensure_ascii=False))
    failed = wushe("verify", "receipt", str(tampered), ok=False)
    assert failed.exit_code == 1 and "NOT VERIFIED" in failed.output and "not in the log" in failed.output

    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    bad = wushe("verify", "receipt", str(garbage), "--log-key", str(pub), ok=False)
    assert bad.exit_code == 1 and "NOT VERIFIED" in bad.output

    missing = wushe("verify", "receipt", str(tmp_path / "nope.json"), ok=False)
    assert missing.exit_code == 2 and "nope.json" in missing.output

    other_dir = wushe("--key-dir", str(tmp_path / "empty"), "verify", "receipt", str(receipt), ok=False)
    assert other_dir.exit_code == 2 and "--log-key" in other_dir.output

    beyond = wushe("receipt", "99999", ok=False)
    assert beyond.exit_code == 1 and "99999" in beyond.output


def test_a_witness_cosigns_and_its_cosignature_appears_in_the_checkpoint(wushe, tmp_path):
    wdir = tmp_path / "witness"
    made = wushe("witness", "init", "mca.example", "--dir", str(wdir))
    assert stat.S_IMODE((wdir / "mca.example.key").stat().st_mode) == 0o600
    witness_key = VerifierKey.from_vkey((wdir / "mca.example.pub").read_text())
    assert witness_key.vkey in made.output and witness_key.alg == 0x04
    again = wushe("witness", "init", "mca.example", "--dir", str(wdir), ok=False)
    assert again.exit_code == 2

    no_checkpoint = wushe("witness", "cosign", "mca.example", "--dir", str(wdir), ok=False)
    assert no_checkpoint.exit_code == 1 and "checkpoint" in no_checkpoint.output

    pub = str(tmp_path / "data" / "keys" / f"{LOG_STEM}.pub")
    wushe("checkpoint")
    cosigned = wushe("witness", "cosign", "mca.example", "--dir", str(wdir), "--log-key", pub)
    assert "cosigned" in cosigned.output
    note = _note(wushe("checkpoint").output)
    checkpoint, parsed = open_checkpoint(note, _log_key(tmp_path))
    [cosig] = [s for s in parsed.signatures if s.name == "mca.example"]
    assert verify_cosignature(checkpoint.text, cosig, witness_key) is not None

    _donate(wushe)
    wushe("checkpoint")
    wushe("witness", "cosign", "mca.example", "--dir", str(wdir))  # log key found in the key directory
    grown = _note(wushe("checkpoint").output)
    assert [s.name for s in parse_note(grown).signatures] == [ORIGIN, "mca.example"]

    impostor = wushe("keys", "create", "impostor").output.strip().splitlines()[-1]
    wrong = wushe("witness", "cosign", "mca.example", "--dir", str(wdir), "--log-key", impostor, ok=False)
    assert wrong.exit_code == 1 and "refused" in wrong.output


def test_proofs_print_json_that_verifies_and_bad_sizes_exit_non_zero(wushe, tmp_path, database_url):
    position = _donate(wushe)
    old, _ = open_checkpoint(_note(wushe("checkpoint").output), _log_key(tmp_path))
    _donate(wushe, "5")
    new, _ = open_checkpoint(_note(wushe("checkpoint").output), _log_key(tmp_path))
    leaves = _stored_bytes(database_url, tmp_path)

    inclusion = json.loads(wushe("proof", "inclusion", str(position)).stdout)
    assert inclusion["position"] == position and inclusion["tree_size"] == new.size
    assert base64.b64decode(inclusion["root_hash"]) == new.root
    proof = [base64.b64decode(h) for h in inclusion["inclusion_proof"]]
    assert merkle.verify_inclusion(leaves[inclusion["leaf_index"]], inclusion["leaf_index"], new.size, proof,
                                   new.root)
    at_old = json.loads(wushe("proof", "inclusion", str(position), "--size", str(old.size)).stdout)
    assert merkle.verify_inclusion(leaves[at_old["leaf_index"]], at_old["leaf_index"], old.size,
                                   [base64.b64decode(h) for h in at_old["inclusion_proof"]], old.root)

    consistency = json.loads(wushe("proof", "consistency", str(old.size), str(new.size)).stdout)
    assert base64.b64decode(consistency["old_root"]) == old.root
    assert base64.b64decode(consistency["new_root"]) == new.root
    assert merkle.verify_consistency(old.size, new.size, old.root, new.root,
                                     [base64.b64decode(h) for h in consistency["consistency_proof"]])

    for args, code, words in [
        (("proof", "consistency", "10", "5"), 1, "old size 10"),
        (("proof", "consistency", "1", str(new.size + 100)), 1, "beyond"),
        (("proof", "inclusion", "99999"), 1, "99999"),
        (("proof", "inclusion", "0"), 1, "position"),
        (("proof", "inclusion", str(position), "--size", str(new.size + 100)), 1, "beyond"),
        (("proof", "inclusion", "abc"), 2, "position"),
    ]:
        result = wushe(*args, ok=False)
        assert result.exit_code == code, (args, result.output)
        assert words in result.output, (args, result.output)


def test_a_witness_key_given_is_checked_and_a_forged_cosignature_fails(wushe, tmp_path):
    wdir = tmp_path / "witness"
    wushe("witness", "init", "mca.example", "--dir", str(wdir))
    other = tmp_path / "other-witness"
    wushe("witness", "init", "other.example", "--dir", str(other))
    position = _donate(wushe)
    wushe("checkpoint")
    wushe("witness", "cosign", "mca.example", "--dir", str(wdir))
    receipt = tmp_path / "r.json"
    wushe("receipt", str(position), "--out", str(receipt))
    witness = str(wdir / "mca.example.pub")

    good = wushe("verify", "receipt", str(receipt), "--witness-key", witness)
    assert "witnessed by" in good.output and "mca.example+" in good.output
    assert "not checked" not in good.output

    doc = json.loads(receipt.read_text())
    lines = doc["checkpoint"].split("\n")
    [i] = [n for n, line in enumerate(lines) if line.startswith("\u2014 mca.example ")]
    blob = bytearray(base64.b64decode(lines[i].split(" ")[2]))
    blob[-1] ^= 0x01  # one bit of the cosignature
    lines[i] = f"\u2014 mca.example {base64.b64encode(bytes(blob)).decode()}"
    doc["checkpoint"] = "\n".join(lines)
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(doc, ensure_ascii=False))
    refused = wushe("verify", "receipt", str(forged), "--witness-key", witness, ok=False)
    assert refused.exit_code == 1 and "NOT VERIFIED" in refused.output
    assert "cosignature" in refused.output and "mca.example" in refused.output and "does not verify" in refused.output

    absent = wushe("verify", "receipt", str(receipt), "--witness-key", str(other / "other.example.pub"), ok=False)
    assert absent.exit_code == 1 and "other.example" in absent.output and "no cosignature" in absent.output
