"""Importing uploaded lists (导入): donation lists from online-giving platforms and banks, and
volunteer sign-in sheets, read from CSV or XLSX through a column mapping, checked row by row by the
ledger's own commands and written all or nothing (``ledger.commands.imports``)."""
