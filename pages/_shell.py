"""The app shell around every page: re-entry through app.py for deep links, and the error boundary.

Not a page (the leading underscore keeps it out of navigation).
"""
from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import streamlit as st

from pages._text import md

from product_repr.errors import ProductReprError

log = logging.getLogger("product_repr.app")

ROOT = Path(__file__).resolve().parent.parent  # the folder holding app.py
DEEP_LINK_KEY = "app.deep_link"


def ensure_app_shell() -> None:
    """Send a page that was opened outside app.py's navigation to app.py (which then draws that page).

    Streamlit treats an app with a folder named pages/ as a legacy multipage app until st.navigation has been
    called once in the server process. So when the very first request after a server start is a deep link
    (/map), the page file runs on its own — no sidebar, a menu listing the helper modules. Re-entering through
    app.py fixes that for the rest of the process. Not under AppTest, which resets the guess on every run.
    """
    try:
        from streamlit import config
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - a future Streamlit without this internal
        return
    if PagesManager.uses_pages_directory and not config.get_option("global.appTest"):
        frame = sys._getframe(1)
        while frame is not None:  # the page file that called us (maybe through state())
            path = Path(frame.f_code.co_filename)
            if path.parent == ROOT / "pages" and not path.name.startswith("_"):
                st.session_state[DEEP_LINK_KEY] = f"pages/{path.name}"  # app.py forwards there
                break
            frame = frame.f_back
        st.switch_page("app.py")


@contextlib.contextmanager
def error_boundary(what: str = "") -> Iterator[None]:
    """Show a ``ProductReprError`` as ``st.error(message)``, anything else as a generic error plus a log entry.

    Streamlit's own stop/rerun signals are BaseExceptions and pass through untouched.
    """
    try:
        yield
    except ProductReprError as err:
        st.error(md(str(err)))
    except Exception:  # noqa: BLE001 - the UI must never show a traceback
        log.exception("unexpected error%s", f" while {what}" if what else "")
        st.error(f"Something went wrong{' while ' + what if what else ''} (details in the server log). "
                 "Try again, or reload the page to start over.")


def server_session():
    """``(Streamlit's Runtime, this script run's context)`` when a server runs the script; None under AppTest
    or in bare mode."""
    try:
        from streamlit.runtime import Runtime
        from streamlit.runtime.scriptrunner import get_script_run_ctx
    except ImportError:  # pragma: no cover - a future Streamlit that moves these
        return None
    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return None
    return Runtime.instance(), ctx


def session_alive():
    """A callable saying whether this browser session is still connected (Streamlit's session manager), for
    work that outlives the script run that started it; None where no server runs (AppTest, bare mode)."""
    found = server_session()
    if found is None:
        return None
    runtime, ctx = found
    session_id = ctx.session_id
    return lambda: runtime.is_active_session(session_id)
