"""The built-in demo catalog: a realistic product table with known, planted truth.

``make_catalog(rows, seed)`` draws products from eight categories (each with subcategories,
brands of its own, a title/description vocabulary sharing some generic shop words with the
others, and category-dependent log-normal prices and weights). Then it plants:

- near-duplicates (~1.5% of rows): a copy of an existing product under a new id, the title
  varied (a word dropped, two words swapped, a marketing word added), price within ±3% and
  review count within ±5%;
- anomalies (~0.75% of rows, at least three), in three kinds:
  ``price`` (30-100x its subcategory's typical price: a kettle at 90,000),
  ``weight`` (a 20-40 kg t-shirt, or 25-60x the typical weight),
  ``category`` (a title and description of one category filed under another, with that
  other category's subcategory, brand, price and weight).

The planted rows never get missing values. ``truth`` is
``{"anomalies": [ids], "near_duplicates": [[original_id, copy_id], ...],
"anomaly_kinds": {id: "price"|"weight"|"category"}}``. docs/FEATURES.md describes it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from product_repr.errors import ConfigError

MIN_ROWS = 20
TERSE_SHARE = 0.12  # titles that are a model code, so text alone cannot place every product

# (category, {subcategory: (nouns, specs, price median, weight median kg)}, brands, adjectives,
#  description phrases, colours, price sigma, rating mean)
_CATEGORIES: list[dict] = [
    {
        "name": "Kitchen Appliances",
        "subs": {
            "Kettles": (["Electric Kettle", "Kettle", "Tea Kettle"], ["1.5 L", "1.8 L", "1.2 L", "1.7 L"], 1800, 1.1),
            "Toasters": (["Pop-up Toaster", "Toaster", "Sandwich Toaster"], ["2 Slice", "4 Slice", "750 W"], 2200, 1.6),
            "Blenders": (["Mixer Grinder", "Hand Blender", "Blender"], ["500 W", "750 W", "3 Jars", "1000 W"], 3500, 2.8),
            "Coffee Makers": (["Coffee Maker", "Espresso Machine", "Drip Coffee Maker"], ["6 Cups", "12 Cups", "15 Bar"], 6500, 3.2),
            "Air Fryers": (["Air Fryer", "Digital Air Fryer"], ["4.2 L", "5.5 L", "3.5 L"], 7500, 4.5),
        },
        "brands": ["Kitchora", "HeatWave", "Cookwell", "Steelcraft", "BrewMaster", "Homely"],
        "adjectives": ["Stainless Steel", "Electric", "Automatic", "Compact", "Cordless", "Non-Stick"],
        "phrases": ["auto shut-off for safety", "boil-dry protection", "easy to clean", "cool-touch body",
                    "fast heating element", "detachable power base", "overheat protection",
                    "for tea, coffee and soups", "ideal for small kitchens", "with a one-year warranty"],
        "colours": ["Silver", "Black", "White", "Red", "Steel"],
        "price_sigma": 0.35, "rating": 4.0,
    },
    {
        "name": "Apparel",
        "subs": {
            "T-Shirts": (["T-Shirt", "Crew Neck T-Shirt", "Polo T-Shirt", "Graphic Tee"], ["Slim Fit", "Regular Fit", "Oversized"], 600, 0.22),
            "Shirts": (["Casual Shirt", "Formal Shirt", "Linen Shirt"], ["Slim Fit", "Regular Fit", "Full Sleeve"], 1200, 0.3),
            "Jeans": (["Jeans", "Denim Jeans", "Stretch Jeans"], ["Skinny Fit", "Straight Fit", "Relaxed Fit"], 1600, 0.6),
            "Hoodies": (["Hoodie", "Zip Hoodie", "Sweatshirt"], ["Fleece", "Regular Fit", "Oversized"], 1400, 0.55),
        },
        "brands": ["UrbanThread", "Cottonway", "Denimco", "StreetLoom", "Basix", "Northline"],
        "adjectives": ["Men's", "Women's", "Unisex", "Cotton", "Printed", "Solid", "Classic"],
        "phrases": ["100% cotton fabric", "breathable and soft", "machine washable", "for everyday wear",
                    "ribbed crew neck", "true to size", "colourfast dyes", "pre-shrunk fabric",
                    "relaxed casual look", "pairs well with jeans"],
        "colours": ["Black", "White", "Navy", "Grey", "Red", "Olive", "Blue"],
        "price_sigma": 0.4, "rating": 4.1,
    },
    {
        "name": "Shoes",
        "subs": {
            "Running Shoes": (["Running Shoes", "Sports Shoes", "Trail Running Shoes"], ["UK 8", "UK 9", "UK 10", "UK 7"], 2800, 0.75),
            "Sneakers": (["Sneakers", "Canvas Sneakers", "Low-Top Sneakers"], ["UK 8", "UK 9", "UK 6", "UK 10"], 2200, 0.8),
            "Sandals": (["Sandals", "Flip Flops", "Sliders"], ["UK 7", "UK 8", "UK 9"], 800, 0.45),
            "Formal Shoes": (["Formal Shoes", "Oxford Shoes", "Derby Shoes", "Loafers"], ["UK 8", "UK 9", "UK 10"], 3200, 1.0),
        },
        "brands": ["Stridex", "FleetFoot", "Solemate", "TrekPro", "Walkon"],
        "adjectives": ["Men's", "Women's", "Lightweight", "Leather", "Mesh", "Cushioned", "Classic"],
        "phrases": ["cushioned midsole", "anti-skid rubber sole", "breathable mesh upper", "lace-up closure",
                    "for running and gym", "memory foam insole", "durable outsole", "genuine leather upper",
                    "lightweight and flexible", "for everyday wear"],
        "colours": ["Black", "White", "Blue", "Grey", "Brown", "Tan"],
        "price_sigma": 0.4, "rating": 4.0,
    },
    {
        "name": "Books",
        "subs": {
            "Fiction": (["Novel", "Mystery Novel", "Thriller", "Short Stories"], ["Paperback", "Hardcover"], 350, 0.35),
            "Cookbooks": (["Cookbook", "Recipe Book", "Baking Book"], ["Paperback", "Hardcover"], 550, 0.7),
            "Children's Books": (["Picture Book", "Story Book", "Activity Book"], ["Paperback", "Board Book"], 250, 0.3),
            "Self-Help": (["Self-Help Book", "Guide", "Workbook"], ["Paperback", "Hardcover"], 400, 0.4),
        },
        "brands": ["Penfold Press", "Inkwell Books", "Harbor House", "Leafline", "Storyhill"],
        "adjectives": ["Bestselling", "Illustrated", "Complete", "New Edition", "Classic", "Essential"],
        "phrases": ["by an award-winning author", "a gripping page-turner", "over 100 easy recipes",
                    "with colour illustrations", "for readers of all ages", "printed on quality paper",
                    "a perfect gift for book lovers", "practical tips and exercises", "bedtime stories for kids",
                    "includes an index"],
        "colours": ["Multicolour"],
        "price_sigma": 0.35, "rating": 4.3,
    },
    {
        "name": "Toys",
        "subs": {
            "Building Blocks": (["Building Blocks Set", "Construction Set", "Brick Set"], ["250 Pieces", "500 Pieces", "120 Pieces"], 1300, 0.8),
            "Dolls": (["Doll", "Fashion Doll", "Doll House"], ["30 cm", "45 cm", "with Accessories"], 900, 0.5),
            "Puzzles": (["Jigsaw Puzzle", "3D Puzzle", "Puzzle"], ["500 Pieces", "1000 Pieces", "100 Pieces"], 600, 0.45),
            "Remote Control Cars": (["Remote Control Car", "RC Monster Truck", "RC Racing Car"], ["1:16 Scale", "1:12 Scale", "2.4 GHz"], 2000, 0.9),
        },
        "brands": ["Playnest", "Toyland", "BrightBlocks", "FunForge", "KidoCraft"],
        "adjectives": ["Kids", "Educational", "Colourful", "Creative", "Deluxe", "Mini"],
        "phrases": ["for ages 3 and above", "non-toxic materials", "develops motor skills", "great gift for kids",
                    "rechargeable battery included", "encourages creativity", "safe rounded edges",
                    "hours of fun", "easy to assemble", "for boys and girls"],
        "colours": ["Multicolour", "Red", "Blue", "Yellow", "Pink", "Green"],
        "price_sigma": 0.45, "rating": 4.2,
    },
    {
        "name": "Beauty",
        "subs": {
            "Shampoo": (["Shampoo", "Anti-Dandruff Shampoo", "Herbal Shampoo"], ["200 ml", "340 ml", "650 ml"], 350, 0.3),
            "Face Cream": (["Face Cream", "Moisturiser", "Night Cream", "Sunscreen"], ["50 g", "100 g", "SPF 50"], 500, 0.12),
            "Lipstick": (["Lipstick", "Matte Lipstick", "Lip Balm"], ["4.2 g", "3.5 g"], 450, 0.03),
            "Perfume": (["Perfume", "Eau de Parfum", "Body Mist"], ["100 ml", "50 ml", "150 ml"], 1200, 0.25),
        },
        "brands": ["Glowell", "Aurora Botanics", "Velvette", "PureLeaf", "Blossom & Co"],
        "adjectives": ["Natural", "Herbal", "Long Lasting", "Nourishing", "Gentle", "Premium"],
        "phrases": ["paraben free", "for all skin types", "dermatologically tested", "with aloe vera",
                    "long lasting fragrance", "enriched with vitamin E", "cruelty free", "for smooth and shiny hair",
                    "lightweight formula", "suitable for daily use"],
        "colours": ["Red", "Pink", "Nude", "White", "Multicolour"],
        "price_sigma": 0.4, "rating": 4.1,
    },
    {
        "name": "Groceries & Snacks",
        "subs": {
            "Chips": (["Potato Chips", "Tortilla Chips", "Banana Chips"], ["150 g", "52 g", "90 g"], 60, 0.15),
            "Biscuits": (["Cookies", "Digestive Biscuits", "Cream Biscuits"], ["200 g", "400 g", "120 g"], 80, 0.25),
            "Tea": (["Green Tea", "Masala Tea", "Black Tea", "Tea Bags"], ["100 Bags", "250 g", "500 g"], 300, 0.3),
            "Coffee": (["Instant Coffee", "Filter Coffee", "Coffee Beans"], ["200 g", "100 g", "500 g"], 450, 0.3),
            "Nuts": (["Almonds", "Cashews", "Mixed Nuts", "Pistachios"], ["250 g", "500 g", "1 kg"], 600, 0.5),
        },
        "brands": ["Crunchy Co", "Nature's Basket", "Chai Point", "Golden Harvest", "Snackwell"],
        "adjectives": ["Salted", "Organic", "Roasted", "Classic", "Premium", "Crispy"],
        "phrases": ["rich in protein", "no added preservatives", "perfect for snacking", "freshly roasted",
                    "made with real ingredients", "great taste in every bite", "store in a cool dry place",
                    "best before 6 months", "resealable pack", "for tea time"],
        "colours": ["Multicolour"],
        "price_sigma": 0.35, "rating": 4.2,
    },
    {
        "name": "Electronics Accessories",
        "subs": {
            "Phone Cases": (["Phone Case", "Back Cover", "Flip Cover"], ["for iPhone 15", "for Galaxy S24", "for Pixel 8"], 400, 0.05),
            "Chargers": (["Fast Charger", "Wall Charger", "Car Charger"], ["20 W", "33 W", "65 W"], 900, 0.12),
            "Headphones": (["Wireless Earbuds", "Bluetooth Headphones", "Wired Earphones"], ["40 H Playback", "ANC", "with Mic"], 1800, 0.2),
            "Cables": (["USB-C Cable", "Lightning Cable", "HDMI Cable"], ["1 m", "2 m", "1.5 m"], 300, 0.08),
            "Power Banks": (["Power Bank", "Slim Power Bank"], ["10000 mAh", "20000 mAh"], 1500, 0.3),
        },
        "brands": ["Voltix", "Zapcore", "SoundPeak", "Gridline", "Nexa"],
        "adjectives": ["Fast", "Wireless", "Braided", "Compact", "Premium", "Universal"],
        "phrases": ["fast charging support", "tangle-free braided design", "bluetooth 5.3", "shockproof protection",
                    "compatible with most phones", "noise cancellation", "LED indicator", "long battery life",
                    "travel friendly", "with a one-year warranty"],
        "colours": ["Black", "White", "Blue", "Grey", "Transparent"],
        "price_sigma": 0.4, "rating": 3.9,
    },
]
# Words any shop uses anywhere: they keep text alone from being a perfect category oracle.
_GENERIC = ["premium quality", "great value", "ideal gift", "best seller", "easy to use", "new arrival",
            "limited offer", "top rated", "everyday essential", "free delivery"]
_MARKETING = ["New", "Original", "Premium", "Combo", "Value Pack", "2024 Edition"]
COLUMNS = ["product_id", "title", "description", "category", "subcategory", "brand", "price", "weight_kg",
           "rating", "review_count", "colour", "in_stock"]


@dataclass
class Catalog:
    """A demo table and its planted truth.

    ``table``: one row per product (columns ``COLUMNS``); ``truth``:
    ``{"anomalies": [ids], "near_duplicates": [[id, id], ...], "anomaly_kinds": {id: kind}}``.
    """

    table: pd.DataFrame
    truth: dict = field(default_factory=dict)


def _pick(rng: np.random.Generator, items: list):
    return items[int(rng.integers(len(items)))]


def _product(rng: np.random.Generator, c: int, *, terse_share: float = TERSE_SHARE) -> dict:
    """One ordinary product of category index ``c``; a share of titles are terse model codes."""
    cat = _CATEGORIES[c]
    sub = _pick(rng, list(cat["subs"]))
    nouns, specs, price_median, weight_median = cat["subs"][sub]
    brand = _pick(rng, cat["brands"])
    adjective = _pick(rng, cat["adjectives"])
    noun = _pick(rng, nouns)
    title = f"{brand} {adjective} {noun} {_pick(rng, specs)}"
    if rng.random() < 0.3:
        title += f", {_pick(rng, cat['colours'])}" if len(cat["colours"]) > 1 else ""
    k = int(rng.integers(2, 4))
    phrases = [cat["phrases"][i] for i in rng.choice(len(cat["phrases"]), size=k, replace=False)]
    if rng.random() < 0.6:
        phrases.insert(int(rng.integers(len(phrases) + 1)), _pick(rng, _GENERIC))
    description = f"{adjective} {noun.lower()} from {brand}: " + ", ".join(phrases) + "."
    if rng.random() < terse_share:  # "Voltix VO-245 65 W": only brand and spec say what it is
        code = f"{brand[:2].upper()}-{int(rng.integers(100, 1000))}"
        title = f"{brand} {code} {_pick(rng, specs)}"
        generic = [_GENERIC[i] for i in rng.choice(len(_GENERIC), size=2, replace=False)]
        description = f"{brand} {code}: {generic[0]}, {generic[1]}, {_pick(rng, cat['phrases'])}."
    brand_factor = 0.75 + 0.5 * (cat["brands"].index(brand) / max(len(cat["brands"]) - 1, 1))
    price = price_median * brand_factor * float(np.exp(rng.normal(0.0, cat["price_sigma"])))
    weight = weight_median * float(np.exp(rng.normal(0.0, 0.25)))
    rating = float(np.clip(rng.normal(cat["rating"], 0.45), 1.0, 5.0))
    reviews = int(np.floor(np.exp(rng.normal(4.0, 1.4))))
    return {"title": title, "description": description, "category": cat["name"], "subcategory": sub,
            "brand": brand, "price": _shop_price(price), "weight_kg": round(weight, 3), "rating": round(rating, 1),
            "review_count": reviews, "colour": _pick(rng, cat["colours"]), "in_stock": bool(rng.random() < 0.9)}


def _shop_price(p: float) -> float:
    """Prices as shops write them: 1,499 rather than 1,503.27."""
    return float(max(round(p / 10.0) * 10.0 - 1.0, 9.0)) if p >= 20 else round(p, 2)


def _vary_title(rng: np.random.Generator, title: str) -> str:
    """A near-duplicate's title: one word dropped, two neighbours swapped, or a word added."""
    words = title.split()
    kind = int(rng.integers(3))
    if kind == 0 and len(words) > 3:
        del words[int(rng.integers(1, len(words)))]  # never the brand
    elif kind == 1 and len(words) > 2:
        i = int(rng.integers(1, len(words) - 1))
        words[i], words[i + 1] = words[i + 1], words[i]
    else:
        words.insert(int(rng.integers(1, len(words) + 1)), _pick(rng, _MARKETING))
    return " ".join(words)


def _plant_anomaly(rng: np.random.Generator, row: dict, kind: str) -> dict:
    """A copy of ``row`` made anomalous in one way (``kind``: price, weight or category)."""
    row = dict(row)
    c = next(i for i, cat in enumerate(_CATEGORIES) if cat["name"] == row["category"])
    _, _, price_median, weight_median = _CATEGORIES[c]["subs"][row["subcategory"]]
    if kind == "price":
        row["price"] = _shop_price(price_median * float(rng.uniform(30, 100)))
    elif kind == "weight":
        light = weight_median < 1.0
        row["weight_kg"] = round(float(rng.uniform(20, 40)) if light else weight_median * float(rng.uniform(25, 60)), 3)
    else:  # text of another category, everything else of this one
        other = _CATEGORIES[(c + int(rng.integers(1, len(_CATEGORIES)))) % len(_CATEGORIES)]
        alien = _product(rng, _CATEGORIES.index(other), terse_share=0.0)
        row["title"], row["description"] = alien["title"], alien["description"]
    return row


def make_catalog(rows: int = 2000, seed: int = 0) -> Catalog:
    """Generate the demo catalog: ``rows`` products (>= 20), deterministic in ``seed``.

    Returns a :class:`Catalog` with ``.table`` (columns ``COLUMNS``; ``product_id`` like
    "P00042") and ``.truth``. Raises ConfigError when ``rows`` < 20.
    """
    if int(rows) < MIN_ROWS:
        raise ConfigError(f"the demo catalog needs at least {MIN_ROWS} rows, got rows={rows}")
    rows = int(rows)
    rng = np.random.default_rng(seed)
    n_dup = max(2, int(round(0.015 * rows)))
    n_anom = max(3, int(round(0.0075 * rows)))
    n_base = rows - n_dup
    cat_weights = np.array([1.2, 1.3, 1.0, 0.9, 0.9, 1.0, 1.4, 1.1])
    cats = rng.choice(len(_CATEGORIES), size=n_base, p=cat_weights / cat_weights.sum())
    records = [_product(rng, int(c)) for c in cats]

    # anomalies: distinct base rows, kinds in turn
    anomaly_rows = rng.choice(n_base, size=n_anom, replace=False)
    kinds = {}
    for j, i in enumerate(anomaly_rows):
        kind = ("price", "weight", "category")[j % 3]
        records[int(i)] = _plant_anomaly(rng, records[int(i)], kind)
        kinds[int(i)] = kind
    # near-duplicates: copies of ordinary rows, appended
    pool = np.setdiff1d(np.arange(n_base), anomaly_rows)
    sources = rng.choice(pool, size=n_dup, replace=False)
    pairs = []
    for s in sources:
        copy = dict(records[int(s)])
        copy["title"] = _vary_title(rng, copy["title"])
        copy["price"] = _shop_price(copy["price"] * float(rng.uniform(0.97, 1.03)))
        copy["review_count"] = int(round(copy["review_count"] * float(rng.uniform(0.95, 1.05))))
        pairs.append((int(s), len(records)))
        records.append(copy)

    df = pd.DataFrame.from_records(records)
    planted = set(kinds) | {i for pair in pairs for i in pair}
    ordinary = np.array([i for i in range(len(df)) if i not in planted])
    for col, share in (("rating", 0.05), ("weight_kg", 0.03), ("colour", 0.04), ("description", 0.03),
                       ("brand", 0.02)):
        hit = ordinary[rng.random(len(ordinary)) < share]
        df.loc[hit, col] = np.nan

    # shuffle, then number the products in their new order
    order = rng.permutation(len(df))
    df = df.iloc[order].reset_index(drop=True)
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    width = max(5, len(str(rows)))
    ids = [f"P{i + 1:0{width}d}" for i in range(len(df))]
    df.insert(0, "product_id", ids)
    df = df[COLUMNS]
    df["review_count"] = df["review_count"].astype("int64")
    df["in_stock"] = df["in_stock"].astype(bool)
    truth = {
        "anomalies": [ids[position[i]] for i in sorted(kinds, key=lambda i: position[i])],
        "near_duplicates": [[ids[position[a]], ids[position[b]]] for a, b in pairs],
        "anomaly_kinds": {ids[position[i]]: kinds[i] for i in sorted(kinds, key=lambda i: position[i])},
    }
    df.attrs["source"] = "demo catalog"
    return Catalog(table=df, truth=truth)


def write_catalog(path: str | Path, rows: int = 2000, seed: int = 0) -> tuple[Path, Path]:
    """Write the catalog to ``path`` (CSV) and its truth to ``<stem>.truth.json`` beside it.

    Returns ``(csv_path, truth_path)``. Parent folders are created. Raises ConfigError for
    rows < 20.
    """
    catalog = make_catalog(rows=rows, seed=seed)
    csv_path = Path(path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    catalog.table.to_csv(csv_path, index=False)
    name = csv_path.name[: -len(".csv")] if csv_path.name.lower().endswith(".csv") else csv_path.name
    truth_path = csv_path.with_name(f"{name}.truth.json")
    truth_path.write_text(json.dumps(catalog.truth, indent=2), encoding="utf-8")
    return csv_path, truth_path
