"""The dashboard page: where things stand, for officials, politicians and the public.

``router`` serves the HTML pages; ``static_files()`` is mounted at ``STATIC_PATH`` for the
one stylesheet and one script. See ``docs/dashboard.md``.
"""

from api.dashboard.pages import STATIC_PATH, router, static_files

__all__ = ["STATIC_PATH", "router", "static_files"]
