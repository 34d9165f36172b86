"""The choices a log-scaled setting offers: a grid from a :class:`~product_repr.learners.config.ParamSpec`'s
``low``/``high`` that always holds its default (the Train page draws it as a select slider)."""
from __future__ import annotations

import math


def log_grid(low: float, high: float, default: float, *, integer: bool = False) -> list:
    """Log-spaced choices from ``low`` to ``high`` that include ``default``; sorted, unique.

    Floats follow 1-2-5 steps per decade (1e-4, 2e-4, 5e-4, 1e-3 …); integers are powers of two, plus
    ``low`` and ``high``. A zero ``low`` is the first choice as it is.
    """
    values: set = {default}
    if integer:
        v = 1
        while v <= high:
            if v >= low:
                values.add(v)
            v *= 2
        values.update({int(low), int(high)})
        return sorted(int(x) for x in values)
    start = low if low > 0 else (default if default > 0 else high / 1e4)
    exponent = math.floor(math.log10(start))
    while 10.0 ** exponent <= high * 1.0000001:
        for m in (1, 2, 5):
            v = float(f"{m}e{exponent}")
            if low - 1e-15 <= v <= high * 1.0000001:
                values.add(v)
        exponent += 1
    values.update({float(low), float(high)})
    return sorted(values)
