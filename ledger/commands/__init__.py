"""The ledger's commands, one module per context, all behind the one ``ledger.application.Ledger``:
``directory`` (principals, keys, organisations), ``funds`` (money in and between funds),
``projects`` (projects and disbursements), ``volunteers`` (service records), ``corrections``
(reversals) and ``log`` (positions and checkpoints), on the shared machinery of ``base``."""
