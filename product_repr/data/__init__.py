"""Reading product tables and knowing their columns: file formats, value parsing, column roles, the demo catalog.

The first layer of the data flow: bytes or a DataFrame in, a ``DataFrame`` and a :class:`Schema` out.
Imports nothing from the other layers.
"""
