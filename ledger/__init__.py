"""Wushe Ledger (五社账本): the write side — money, signed events, rules, keys and the application."""
