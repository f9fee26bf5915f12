"""Image tokens by OpenAI's published tile rule, and image sizes read from data URLs.

A high-detail image costs a base plus a price per 512-px tile, after it is scaled to fit in
2048 x 2048 and then to 768 px on its shortest side; a low-detail one the base alone. The
size is read from the header of a base64 data-URL PNG, JPEG, GIF or WebP; an image given by
web URL (or one whose header cannot be read) is assumed to take the most tiles the rule can
give.
"""

from __future__ import annotations

import base64
import binascii
import math
import re

__all__ = ["MAX_IMAGE_TILES", "image_size", "image_tiles", "image_token_rates", "image_tokens"]

# OpenAI's published tile rule: (base tokens, tokens per 512-px tile). The gpt-4o / gpt-4.1
# family is 85 + 170 per tile; gpt-4o-mini bills the same pictures at 2833 + 5667.
_IMAGE_RATES: tuple[tuple[str, tuple[int, int]], ...] = (("gpt-4o-mini", (2833, 5667)),)
_DEFAULT_IMAGE_RATES = (85, 170)
# The most tiles the rule can give (e.g. 2048 x 768 -> 4 x 2): assumed when the size is unknown.
MAX_IMAGE_TILES = 8


def image_token_rates(model: str) -> tuple[int, int]:
    """(base, per tile) image tokens for ``model``; the gpt-4o rates for other models."""
    name = model.split(":")[1] if model.startswith("ft:") else model
    for prefix, rates in _IMAGE_RATES:
        if name.startswith(prefix):
            return rates
    return _DEFAULT_IMAGE_RATES


def image_tiles(width: int, height: int) -> int:
    """512-px tiles of a high-detail image: fit in 2048 x 2048, then shortest side to 768."""
    w, h = float(width), float(height)
    if w <= 0 or h <= 0:
        return MAX_IMAGE_TILES
    if max(w, h) > 2048:
        scale = 2048 / max(w, h)
        w, h = w * scale, h * scale
    if min(w, h) > 768:
        scale = 768 / min(w, h)
        w, h = w * scale, h * scale
    return math.ceil(round(w) / 512) * math.ceil(round(h) / 512)


def image_tokens(url: str, detail: object, model: str) -> int:
    """Tokens of one image part at ``model``'s rates: the base alone at ``detail="low"``,
    else the base and its tiles (the most tiles when the size cannot be read).

    >>> image_tokens("https://example.com/cat.png", "low", "gpt-4o")
    85
    >>> image_tokens("https://example.com/cat.png", "auto", "gpt-4o")
    1445
    """
    base, per_tile = image_token_rates(model)
    if detail == "low":
        return base
    size = image_size(url)
    tiles = MAX_IMAGE_TILES if size is None else image_tiles(*size)
    return base + per_tile * tiles


_DATA_URL = re.compile(r"data:[^,;]*(?:;[^,;]*)*;base64,", re.IGNORECASE)


def image_size(url: str) -> tuple[int, int] | None:
    """(width, height) of a base64 data-URL PNG, JPEG, GIF or WebP; ``None`` when unknown."""
    match = _DATA_URL.match(url)
    if match is None:
        return None
    payload = url[match.end() :]
    try:
        # The header is near the start; a JPEG's frame may follow a large EXIF block.
        head = base64.b64decode(payload[:87384] + "=" * (-len(payload[:87384]) % 4))
        size = _header_size(head)
        if size is None and len(payload) > 87384:
            size = _header_size(base64.b64decode(payload))
    except (binascii.Error, ValueError):
        return None
    return size


def _header_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        chunk = data[12:16]
        if chunk == b"VP8 " and len(data) >= 30:
            width = int.from_bytes(data[26:28], "little") & 0x3FFF
            return width, int.from_bytes(data[28:30], "little") & 0x3FFF
        if chunk == b"VP8L" and len(data) >= 25:
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if chunk == b"VP8X" and len(data) >= 30:
            width = int.from_bytes(data[24:27], "little") + 1
            return width, int.from_bytes(data[27:30], "little") + 1
        return None
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    index = 2
    while index + 9 < len(data):
        if data[index] != 0xFF:
            index += 1
            continue
        marker = data[index + 1]
        if marker == 0xFF or marker == 0x01 or 0xD0 <= marker <= 0xD8:
            index += 1 if marker == 0xFF else 2  # fill byte, or a marker without a length
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            height = int.from_bytes(data[index + 5 : index + 7], "big")
            return int.from_bytes(data[index + 7 : index + 9], "big"), height
        index += 2 + int.from_bytes(data[index + 2 : index + 4], "big")
    return None
