"""Participants' photos: how many pixels one holds, read from its header without decoding a pixel.

A photo a few hundred kilobytes long can claim 200 megapixels (a "decompression bomb"): the upload server
refuses one over :data:`MAX_PIXELS` from its header, and the console never decodes one.
"""
from __future__ import annotations

import io
from collections.abc import Callable

#: The most pixels a participant's photo may have (≈ a 48-MP phone camera shrunk by the recorder to 1600 px
#: leaves far less; a camera's own full-size photo of up to 40 MP is still taken).
MAX_PIXELS = 40_000_000


def pixels(data: bytes, kind: str) -> int | None:
    """Width × height of a ``kind`` image (``jpg``, ``png``, ``gif``, ``webp``) from its header alone; None for
    a kind Pillow does not read (HEIC) or a header it cannot parse."""
    from PIL import GifImagePlugin, Image, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

    # The format's own reader parses the header only, and skips Image.open's bomb check, which would
    # raise before telling the size.
    readers: dict[str, Callable[[io.BytesIO], Image.Image]] = {
        "jpg": JpegImagePlugin.JpegImageFile, "png": PngImagePlugin.PngImageFile,
        "gif": GifImagePlugin.GifImageFile, "webp": WebPImagePlugin.WebPImageFile}
    reader = readers.get(kind)
    if reader is None:
        return None
    try:
        with reader(io.BytesIO(data)) as image:
            return image.width * image.height
    except (OSError, SyntaxError, ValueError):  # Pillow's readers raise SyntaxError for a broken header
        return None
