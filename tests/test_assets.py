"""The app's static files in assets/: a diagram per learner, the page icon, the catalog template."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from product_repr import learners
from product_repr.data.schema import Role, infer_schema
from product_repr.data.tables import read_table

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def test_every_registered_learner_has_a_diagram_that_parses():
    for name in learners.REGISTRY:
        path = ASSETS / f"learner-{name}.svg"
        assert path.exists(), f"no diagram for learner {name!r}: add {path.name} to assets/"
        root = ET.parse(path).getroot()
        assert root.tag.endswith("svg") and root.get("viewBox"), f"{path.name} is not a scalable SVG"
        title = root.find("{http://www.w3.org/2000/svg}title")
        assert title is not None and title.text, f"{path.name} has no <title> for screen readers"


def test_page_icon_is_a_png():
    assert (ASSETS / "icon.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_catalog_template_reads_with_the_roles_it_shows():
    df = read_table(ASSETS / "catalog_template.csv")
    schema = infer_schema(df)
    roles = {c.name: c.role for c in schema}
    assert roles["product_id"] == Role.ID
    assert roles["title"] == roles["description"] == Role.TEXT, schema.reason("title")
    assert roles["category"] == roles["brand"] == Role.CATEGORICAL
    assert roles["price"] == roles["weight_g"] == Role.NUMERIC
