"""HTTP header names the client and the offline backend share (both import this module).

``USE_CASE_HEADER``: the Client tells the offline backend which use case a request is for, so
the local model writes in that style; it is sent only offline and real APIs never see it.
"""

from __future__ import annotations

__all__ = ["USE_CASE_HEADER"]

USE_CASE_HEADER = "x-llmpresets-use-case"
