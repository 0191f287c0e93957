"""``wushe backup`` (an embedded SQLite ledger with its keys, consistently) and ``wushe history``
(the newest published checkpoint kept outside the database: show it, or adopt a witnessed one
brought from elsewhere). See docs/operations.md, Backup and restore."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from wushe import cli

history_app = typer.Typer(help="The newest published checkpoint, kept beside the keys (已发布检查点).",
                          no_args_is_help=True)

ATTEMPTS = 5
"""Times a backup is tried while the key directory keeps changing under it."""


def _digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under a directory, by relative path."""
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@cli.app.command()
@cli.handles_errors
def backup(
    out_dir: Annotated[Path, typer.Option("--out", help="A new directory to write the backup into.")],
) -> None:
    """Back up an embedded SQLite ledger and its key directory, consistently (备份).

    The key directory (private keys, api-secret, trusted witness keys, the published checkpoint)
    is copied first; then the store, with SQLite's online backup while the ledger runs; then the
    keys are looked at again, and the whole is retried if they changed meanwhile. A PostgreSQL
    ledger is backed up with the database's own tools (docs/operations.md)."""
    from ledger.filemodes import private_dir
    from ledger.stores import is_postgres

    settings = cli.state.settings
    url = settings.resolved_database_url
    if is_postgres(url):
        cli._fail("a PostgreSQL ledger is backed up with pg_dump / pg_dumpall --roles-only, or pgBackRest with WAL "
                  "archiving; copy the key directory with it (docs/operations.md, Backup and restore) "
                  "PostgreSQL 账本请用数据库自身的备份工具，并同时备份密钥目录", 2)
    if out_dir.exists() and any(out_dir.iterdir()):
        cli._fail(f"{out_dir} is not empty: a backup goes into a new directory 备份目录须为空", 2)
    store = Path(cli.state.ledger.factory.datastore.pool.db_name)
    key_dir = settings.resolved_key_dir
    extra = [d for d in (settings.data_dir / "witness",) if d.is_dir()]
    private_dir(out_dir)
    for _ in range(ATTEMPTS):
        before = {str(d): _digest(d) for d in (key_dir, *extra)}
        for target in ("keys", "witness", "ledger.sqlite3"):
            path = out_dir / target
            if path.is_dir():
                shutil.rmtree(path)
            path.unlink(missing_ok=True)
        # the keys first: the published checkpoint copied is then never newer than the store copied
        shutil.copytree(key_dir, out_dir / "keys")
        for folder in extra:
            shutil.copytree(folder, out_dir / folder.name)
        _sqlite_backup(store, out_dir / "ledger.sqlite3")
        if {str(d): _digest(d) for d in (key_dir, *extra)} == before:
            break
    else:
        cli._fail(f"the key directory kept changing during {ATTEMPTS} attempts; try again when it is quiet", 1)
    manifest = _manifest(out_dir)
    (out_dir / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    if manifest["checkpoint"]:
        (out_dir / "checkpoint.txt").write_text(manifest["checkpoint"]["note"])
    cli.out.print(f"[green]备份完成 backed up[/] log of {manifest['events']} events, keys and checkpoint to {out_dir}",
                  highlight=False)


def _sqlite_backup(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy of the store, its WAL included, while others write."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        (ok,) = dst.execute("PRAGMA integrity_check").fetchone()
        if ok != "ok":
            raise OSError(f"the backup of {source} does not pass SQLite's integrity check: {ok}")
    finally:
        src.close()
        dst.close()
    target.chmod(0o600)


def _manifest(out_dir: Path) -> dict:
    db = sqlite3.connect(out_dir / "ledger.sqlite3")
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        events = db.execute("SELECT MAX(rowid) FROM stored_events").fetchone()[0] if "stored_events" in tables else 0
        row = db.execute("SELECT tree_size, note FROM wushe_checkpoints ORDER BY tree_size DESC LIMIT 1").fetchone() \
            if "wushe_checkpoints" in tables else None
    finally:
        db.close()
    return {"taken_at": datetime.now(UTC).isoformat(timespec="seconds"), "events": events or 0,
            "checkpoint": {"size": row[0], "note": bytes(row[1]).decode()} if row else None,
            "files": _digest(out_dir)}


@history_app.command("show")
@cli.handles_errors
def history_show(
    note: Annotated[bool, typer.Option("--note", help="Print only the signed note (for --trust or a witness).")] = False,
) -> None:
    """The newest checkpoint this ledger published, and whether the log here is that history."""
    ledger = cli.state.ledger
    published = ledger.published.get(ledger.origin)
    if published is None:
        cli._fail("no checkpoint published yet (none signed with this key directory) 尚未发布检查点", 1)
    if note:
        typer.echo(published.note, nl=False)
        return
    how = "witnessed 已见证" if published.witnessed else "signed 已签名"
    cli.out.print(f"published checkpoint 已发布检查点: size {published.checkpoint.size} ({how}) in "
                  f"{ledger.published.path}", highlight=False)
    problem = ledger.history_problem()
    if problem is not None:
        cli._fail(f"{problem.zh}\n  {problem.en}", 1)
    cli.out.print("[green]the log here extends it 本库日志与其一致[/]")


@history_app.command("adopt")
@cli.handles_errors
def history_adopt(
    checkpoint_file: Annotated[Path, typer.Argument(help="A signed checkpoint note, e.g. the last one a witness "
                                                         "cosigned.")],
) -> None:
    """Record a checkpoint signed by this ledger's log key as published (after restoring the key
    directory from a backup, bring the newest witnessed checkpoint back from the witness)."""
    from ledger.checkpoints import CheckpointError, open_checkpoint

    ledger = cli.state.ledger
    data = checkpoint_file.read_bytes()
    keys = [record.key for record in ledger.directory().active_keys(ledger.origin)]
    problem: Exception | None = None
    for key in reversed(keys):
        try:
            checkpoint, parsed = open_checkpoint(data, key)
            break
        except CheckpointError as exc:
            problem = exc
    else:
        cli._fail(f"not a checkpoint of this ledger's log key: {problem}", 2)
    witnessed = len(parsed.signatures) > 1
    if not ledger.published.record(checkpoint, data, witnessed=witnessed):
        cli.out.print(f"a checkpoint of size ≥ {checkpoint.size} is already recorded 已有不小于该规模的记录")
    else:
        cli.out.print(f"[green]recorded 已记录[/] checkpoint of size {checkpoint.size} as published", highlight=False)
    found = ledger.history_problem()
    if found is not None:
        cli._fail(f"{found.zh}\n  {found.en}", 1)
