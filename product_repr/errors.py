"""Exceptions raised by product_repr.

Every failure caused by the user's data or settings is a ``ProductReprError``
(a ``ValueError``) whose message names the file/column/row/value and the way
out. Pages show ``str(err)`` with ``st.error``; the CLI prints it and exits 2.
"""


class ProductReprError(ValueError):
    """Base class: a problem with the user's data, settings or files."""


class TableError(ProductReprError):
    """A file could not be read as a table (format, encoding, structure)."""


class SchemaError(ProductReprError):
    """Column roles are invalid (unknown column, bad override, nothing usable)."""


class FeatureError(ProductReprError):
    """A table could not be encoded into features (missing columns, wrong types)."""


class ConfigError(ProductReprError):
    """A learner or projection setting is out of range or inconsistent."""


class NotFittedError(ProductReprError):
    """A model or feature space was used before ``fit``."""


class TrainingError(ProductReprError):
    """Training failed because of the data or settings (e.g. the loss became NaN)."""


class RunError(ProductReprError):
    """A run directory is missing, incomplete or corrupt."""
