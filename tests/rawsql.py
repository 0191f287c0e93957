"""Direct SQL on a ledger's events table, behind the application's back: how the tamper tests
play an operator who edits, moves or deletes rows."""

from __future__ import annotations

import sqlite3

import psycopg

from ledger.stores import is_postgres, persistence_env


class RawSQL:
    """Statements with ``?`` placeholders, run in one transaction on the ledger's own database."""

    def __init__(self, ledger, database_url: str):
        self.table = ledger.recorder.events_table_name
        self.url = database_url
        self.postgres = is_postgres(database_url)
        self.pos = "notification_id" if self.postgres else "rowid"
        """The column holding the log position."""

    def run(self, *statements: tuple[str, tuple]) -> list:
        """Run the statements in one transaction; each result is its rows, or None."""
        results = []
        if self.postgres:
            base, _, query = self.url.partition("?")
            schema = query.split("schema=", 1)[1].split("&", 1)[0]
            with psycopg.connect(base) as conn:
                conn.execute(f'SET search_path TO "{schema}"')
                for sql, params in statements:
                    cur = conn.execute(sql.replace("?", "%s"), params)
                    results.append(cur.fetchall() if cur.description else None)
                conn.commit()
        else:
            conn = sqlite3.connect(persistence_env(self.url)["SQLITE_DBNAME"])
            try:
                with conn:
                    for sql, params in statements:
                        cur = conn.execute(sql, params)
                        results.append(cur.fetchall() if cur.description else None)
            finally:
                conn.close()
        return results

    def gap(self, width: int) -> None:
        """Make the next event's log position skip ``width`` numbers, as a rolled-back insert does."""
        t = self.table
        if self.postgres:
            sql = (f"SELECT setval(pg_get_serial_sequence('{t}', 'notification_id'), "
                   f"(SELECT MAX(notification_id) FROM {t}) + ?)")
            self.run((sql, (width,)))
        else:  # SQLite numbers a new row max(rowid) + 1: move the newest row up
            self.run((f"UPDATE {t} SET rowid = rowid + ? WHERE rowid = (SELECT MAX(rowid) FROM {t})", (width,)))

