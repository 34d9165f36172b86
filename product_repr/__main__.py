"""``python -m product_repr ...``: see product_repr.cli."""
import sys

from product_repr.cli import main

sys.exit(main())
