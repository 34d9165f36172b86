"""Data shown as text: names, titles, values and messages made inert before they reach Streamlit's markdown.

Not a page. ``st.markdown``, ``st.caption``, ``st.subheader``, the alert boxes and ``st.toast`` read their text
as Markdown with Streamlit's extensions: ``$…$`` is LaTeX, ``:red[…]`` is colour, ``:material/x:`` an icon,
``[a](b)`` a link, ``*`` and ``_`` emphasis. HTML is already shown as text there, but a product title such as
"$5 off *today*" or a column named ``price_[usd]`` would not be. :func:`md` escapes every character Markdown
could read, so the text shows exactly as it is in the catalog.
"""
from __future__ import annotations

import re

# CommonMark lets a backslash escape any ASCII punctuation. Inside a line these are the characters that
# Markdown, GitHub-flavoured Markdown or Streamlit's extensions give a meaning to: emphasis, code, links and
# images, autolinks and HTML, entities, strikethrough, LaTeX, and a colon that starts a colour, an icon or an
# emoji shortcode (":red[", ":material/", ":smile:").
_INLINE = re.compile(r"([\\`*_\[\]<$~&]|:(?=[A-Za-z]))")
# at the start of a text: a heading, a list item, a quote, a table row or a rule
_BLOCK = re.compile(r"^(?:([#\-+=>|])|(\d+)([.)]))")


def md(value: object) -> str:
    """``value`` as text that Streamlit's Markdown shows literally: every active character escaped, line
    breaks (which would start new blocks: lists, headings, tables) made spaces."""
    text = _INLINE.sub(r"\\\1", " ".join(str(value).split()))
    return _BLOCK.sub(lambda m: "\\" + m[1] if m[1] else m[2] + "\\" + m[3], text, count=1)
