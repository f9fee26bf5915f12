"""Test helper (not a test module): the real openai SDK wired to an offline transport."""

from __future__ import annotations

import httpx2
import openai

from llmpresets.offline import OfflineTransport

BASE_URL = "http://offline.test/v1"


def sdk(transport: OfflineTransport, base_url: str = BASE_URL) -> openai.OpenAI:
    """A sync client that never retries, so a test sees each answer as the transport gave it."""
    return openai.OpenAI(
        api_key="offline",
        base_url=base_url,
        max_retries=0,
        http_client=httpx2.Client(transport=transport),
    )


def async_sdk(transport: OfflineTransport, base_url: str = BASE_URL) -> openai.AsyncOpenAI:
    """The async twin of :func:`sdk`."""
    return openai.AsyncOpenAI(
        api_key="offline",
        base_url=base_url,
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=transport),
    )
