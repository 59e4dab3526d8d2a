"""``python -m evsearch``: the same as the ``evsearch`` command."""

from .cli import main

main()
