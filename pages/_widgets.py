"""Widgets drawn from metadata: one per learner setting (from its config field's range, step, scale, help),
and the text-encoding choice. Values chosen last are remembered under a key no widget owns.

Not a page. Streamlit forgets a widget's state when its page is left, so each value is also kept in
``st.session_state["train.saved"]`` and given back as the widget's default on the next visit.
"""
from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from product_repr.learners.grid import log_grid

SAVED_KEY = "train.saved"
NUMBER_INPUT_STEPS = 400  # more steps than this between low and high: a number input, not a slider


def format_seconds(seconds: float) -> str:
    """``0.4 s``, ``12 s``, ``3 min 05 s``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def saved(group: str) -> dict:
    """The remembered values of one group of settings (a learner's name, or "_features")."""
    return st.session_state.setdefault(SAVED_KEY, {}).setdefault(group, {})


def current_values(learner: str, specs) -> dict:
    """Each setting's value as the user has it now: the widget's, else the remembered one, else the default."""
    remembered = saved(learner)
    return {s.name: st.session_state.get(f"train.{learner}.{s.name}", remembered.get(s.name, s.default))
            for s in specs}


def draw_field(learner: str, spec, columns: list[str]):
    """One widget for one config field (``learners.config_fields``), keyed ``train.<learner>.<field>``: a
    slider, a select slider on a log grid, a number input, a select, a checkbox or a column multiselect."""
    remembered = saved(learner)
    if spec.name in remembered:
        spec = dataclasses.replace(spec, default=remembered[spec.name])
    value = _widget(f"train.{learner}.{spec.name}", spec, columns)
    remembered[spec.name] = value
    return value


def _widget(key: str, spec, columns: list[str]):
    label, helptext, low, high = spec.name.replace("_", " "), spec.help or None, spec.low, spec.high
    if spec.kind == "bool":
        return st.checkbox(label, value=bool(spec.default), key=key, help=helptext)
    if spec.kind == "choice":
        choices = list(spec.choices)
        return st.selectbox(label, choices, index=choices.index(spec.default), key=key, help=helptext)
    if spec.kind == "columns":
        return tuple(st.multiselect(label, columns, default=[c for c in spec.default if c in columns], key=key,
                                    help=helptext))
    if spec.kind == "int":
        if spec.log:
            grid = log_grid(low, high, spec.default, integer=True)
            return int(st.select_slider(label, grid, value=spec.default, key=key, help=helptext))
        if low is None or high is None or (high - low) / (spec.step or 1) > NUMBER_INPUT_STEPS:
            return int(st.number_input(label, min_value=None if low is None else int(low),
                                       max_value=None if high is None else int(high), value=int(spec.default),
                                       step=int(spec.step or 1), key=key, help=helptext))
        return int(st.slider(label, int(low), int(high), int(spec.default), step=int(spec.step or 1), key=key,
                             help=helptext))
    if spec.log and low is not None and high is not None:  # float
        return float(st.select_slider(label, log_grid(low, high, spec.default), value=spec.default, key=key,
                                      help=helptext, format_func=lambda v: f"{v:g}"))
    if spec.step is None or low is None or high is None:
        return float(st.number_input(label, min_value=low, max_value=high, value=float(spec.default),
                                     step=float(spec.step or (spec.default or 1e-3) / 2 or 1e-3), format="%g",
                                     key=key, help=helptext))
    return float(st.slider(label, float(low), float(high), float(spec.default), step=float(spec.step), key=key,
                           help=helptext))


def text_encoding(text_columns: list[str], table: pd.DataFrame | None = None) -> dict:
    """The text-encoding choice as FeatureSpace settings (remembered across pages); {} without text columns."""
    from product_repr.features import sentence
    from product_repr.features.space import AUTO, TFIDF
    from product_repr.features.text import clean_texts

    if not text_columns:
        return {}
    installed = sentence.available()
    options = [AUTO] if sentence.DEFAULT_MODEL in installed else []
    options += [sentence.FAST_MODEL] if sentence.FAST_MODEL in installed else []
    options.append(TFIDF)
    titles = {AUTO: f"Pretrained sentence encoder + TF-IDF ({sentence.DEFAULT_MODEL})",
              sentence.FAST_MODEL: f"Fast static sentence vectors + TF-IDF ({sentence.FAST_MODEL})",
              TFIDF: "TF-IDF only (word and character n-grams)"}
    remembered = saved("_features")
    current = remembered.get("text_encoder", options[0])
    choice = st.selectbox(
        "Text encoding", options, index=options.index(current) if current in options else 0,
        format_func=titles.get, key="train.text_encoder",
        help="How titles and descriptions become numbers before the learner sees them. The pretrained encoder "
             "(shipped with the package, nothing is downloaded) knows that 'banana' and 'apple' are both fruit; "
             "it raised 10-NN precision by 0.015-0.10 on every real catalog measured (docs/QUALITY.md). Texts "
             "this server has encoded before come from its cache. The fast static vectors (a distilled copy of "
             "the same model) encode 100x faster but keep less meaning (0.02-0.05 lower 10-NN precision); "
             "TF-IDF only is the fastest.")
    remembered["text_encoder"] = choice
    if choice != TFIDF and table is not None:
        texts = [t for c in text_columns for t in clean_texts(table[c])]
        seconds = sentence.estimate_seconds(texts, sentence.DEFAULT_MODEL if choice == AUTO else choice)
        if seconds >= 5:
            st.caption(f"Encoding this catalog's new texts with the pretrained model takes about "
                       f"{format_seconds(seconds)} on two CPU cores; a draft map is shown meanwhile, and "
                       "later trainings (yours or anyone's on this server) reuse the encodings.")
    if sentence.DEFAULT_MODEL not in installed:
        st.caption("No pretrained sentence encoder is installed; `pip install -r requirements.txt` adds one.")
    return {"text_encoder": choice}
