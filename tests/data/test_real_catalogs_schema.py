"""Real catalogs from ../shared/datasets load with sensible roles (skipped when absent, never under CI)."""
from __future__ import annotations

import pytest

from product_repr.data.schema import Role, infer_schema
from product_repr.data.tables import read_table

ID, NUM, CAT, TEXT, IGN = Role.ID, Role.NUMERIC, Role.CATEGORICAL, Role.TEXT, Role.IGNORE

CATALOGS = {
    "amazon_sales_india/amazon_products_parsed.csv": {
        "product_id": ID, "product_name": TEXT, "about_product": TEXT, "category_l1": CAT, "category_l2": CAT,
        "category_leaf": CAT, "discounted_price_inr": NUM, "actual_price_inr": NUM, "discount_pct": NUM,
        "rating": NUM, "rating_count": NUM,
    },
    "bigbasket_products/bigbasket_products.csv": {
        "index": ID, "product": TEXT, "category": CAT, "sub_category": CAT, "brand": TEXT, "type": TEXT,
        "sale_price": NUM, "market_price": NUM, "rating": NUM,
    },
    "instacart_products/instacart_products_joined.csv": {
        "product_id": ID, "product_name": TEXT, "aisle": CAT, "department": CAT, "aisle_id": CAT,
        "department_id": CAT,
    },
    "hm_articles/hm_articles.csv.gz": {
        "article_id": ID, "prod_name": TEXT, "detail_desc": TEXT, "colour_group_name": CAT,
        "product_group_name": CAT, "colour_group_code": CAT, "index_group_name": CAT,
    },
}


@pytest.mark.parametrize("relative", list(CATALOGS), ids=[r.split("/")[0] for r in CATALOGS])
def test_real_catalog_roles(shared_dataset, relative):
    df = read_table(shared_dataset(relative), max_rows=3000)
    assert len(df) == min(3000, len(df)) and df.attrs["rows_read"] == len(df)
    schema = infer_schema(df)
    got = {col: schema.role(col) for col in CATALOGS[relative]}
    wrong = {c: f"{got[c].value} ({schema.reason(c)}), expected {want.value}" for c, want in CATALOGS[relative].items()
             if got[c] is not want}
    assert not wrong, f"{relative}: {wrong}"
    assert schema.id_column == next(c for c, r in CATALOGS[relative].items() if r is ID)
    for info in schema:
        assert f"→ {info.role.value}" in info.reason, f"reason does not state the role: {info}"


def test_hm_article_ids_keep_leading_zeros(shared_dataset):
    df = read_table(shared_dataset("hm_articles/hm_articles.csv.gz"), max_rows=50)
    assert df.attrs["compression"] == "gzip" and df.attrs["capped"] is True, df.attrs
    assert df["article_id"].iloc[0] == "0108775015", df["article_id"].iloc[0]
    assert df["article_id"].str.startswith("0").all()


def test_bigbasket_full_reason_in_figures(shared_dataset):
    schema = infer_schema(read_table(shared_dataset("bigbasket_products/bigbasket_products.csv")))
    assert schema.reason("index") == "all 27,555 values unique → id"
    assert schema.reason("brand") == (
        "2,313 levels, the top 50 cover only 24% of rows, 1 empty → text (names compared by their words, so every "
        "level counts)"
    )
    assert schema.reason("sub_category") == "90 levels, short strings → categorical (top 50 kept)"
