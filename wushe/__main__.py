"""``python -m wushe``: the same command line as the ``wushe`` script."""

from wushe.cli import main

main()
