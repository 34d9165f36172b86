"""What is computed from a learned embedding Z: the map, neighbours, reconstruction errors, quality metrics.

May import :mod:`product_repr.data`, :mod:`product_repr.features` and :mod:`product_repr.learners`; never
the pipeline, the run directory or the command line.
"""
