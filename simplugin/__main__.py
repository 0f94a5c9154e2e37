"""`python -m simplugin` is the `simplugin` command."""

from .cli import main

raise SystemExit(main())
