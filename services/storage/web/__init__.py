"""The record pages for people (tra cứu và xác minh học bạ số), served by the storage service.

Server-rendered HTML, Vietnamese first and English with ``?lang=en``, no JavaScript, usable
on a phone and with a screen reader. :class:`LookupPages` mounts ``/`` and ``/tra-cuu...``
(:mod:`services.storage.web.lookup_pages`), :class:`VerifyPages` ``/xac-minh``
(:mod:`services.storage.web.verify_pages`). The words are in
:mod:`services.storage.web.texts`, the markup in :mod:`services.storage.web.templates`.
"""

from __future__ import annotations

from services.storage.web.lookup_pages import LookupPages
from services.storage.web.responses import SECURITY_HEADERS
from services.storage.web.verify_pages import VerifyPages

__all__ = ["SECURITY_HEADERS", "LookupPages", "VerifyPages"]
