"""Participants' photos: whether one is really an image we keep, and how many pixels it holds.

A photo a few hundred kilobytes long can claim 200 megapixels (a "decompression bomb"), or carry an image's magic
bytes in front of anything at all. :func:`check` reads the header first and refuses a claim over
:data:`MAX_PIXELS` without decoding a pixel; only then does it decode the picture, at most :data:`MAX_PIXELS`
of it (a JPEG at an eighth of its size), so what the library keeps is a picture the console can draw.
"""
from __future__ import annotations

import io
import re
import warnings
from collections.abc import Callable

#: The most pixels a participant's photo may have (≈ a 48-MP phone camera shrunk by the recorder to 1600 px
#: leaves far less; a camera's own full-size photo of up to 40 MP is still taken).
MAX_PIXELS = 40_000_000


class PhotoError(ValueError):
    """A photo refused: :class:`NotAnImage` or :class:`TooLarge`."""


class NotAnImage(PhotoError):
    """The data does not decode as the image its magic bytes announce."""


class TooLarge(PhotoError):
    """The header claims more than :data:`MAX_PIXELS` (``pixels``: the claim, in the image or one of its frames)."""

    def __init__(self, pixels: int) -> None:
        super().__init__(f"the photo claims {pixels} pixels")
        self.pixels = pixels


def _reader(kind: str) -> Callable[[io.BytesIO], object] | None:
    # The format's own reader parses the header only (Image.open would try every format on garbage).
    from PIL import GifImagePlugin, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

    return {"jpg": JpegImagePlugin.JpegImageFile, "png": PngImagePlugin.PngImageFile,
            "gif": GifImagePlugin.GifImageFile, "webp": WebPImagePlugin.WebPImageFile}.get(kind)


def _claimed(exc: Exception) -> int:
    """The pixel count Pillow's bomb check names in its message (it refuses claims over twice its own limit)."""
    from PIL import Image

    found = re.search(r"\((\d+) pixels\)", str(exc))
    return int(found.group(1)) if found else 2 * int(Image.MAX_IMAGE_PIXELS or MAX_PIXELS)


def check(data: bytes, kind: str) -> None:
    """Refuse a ``kind`` image (``jpg``, ``png``, ``gif``, ``webp``) that claims more than :data:`MAX_PIXELS`
    (:class:`TooLarge`, from the header alone) or does not decode (:class:`NotAnImage`). A GIF's first frame is
    decoded (the one the console draws); a JPEG at ⅛ scale. A kind Pillow does not read (HEIC) is not checked."""
    from PIL import Image

    reader = _reader(kind)
    if reader is None:
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked here
            with reader(io.BytesIO(data)) as image:  # type: ignore[attr-defined]
                pixels = image.width * image.height
                if pixels > MAX_PIXELS:
                    raise TooLarge(pixels)
                if kind == "jpg":
                    image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
                image.load()
    except PhotoError:
        raise
    except Image.DecompressionBombError as exc:
        raise TooLarge(_claimed(exc)) from None
    except Exception as exc:  # whatever Pillow raises on these bytes, they are not a picture we keep
        raise NotAnImage(f"not a {kind} image ({type(exc).__name__})") from None
