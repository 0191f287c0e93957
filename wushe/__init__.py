"""The composition root of the ``wushe`` command: it wires the ledger, the projections and the API."""
