"""How participants reach the show: recorder URLs with the token, the LAN address, and QR codes (PNG for the
console, text for a terminal). The LAN certificate is :mod:`.certificate`'s, the tunnel :mod:`.tunnel`'s."""
from __future__ import annotations

import io
import ipaddress
import socket
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import segno


def is_loopback(address: str) -> bool:
    """Whether ``address`` (an IP address or ``localhost``) is this machine only."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def with_token(url: str, token: str) -> str:
    """``url`` with ``token=<token>`` in its query string (replacing any there)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "token"] + [("token", token)]
    return urlunsplit(parts._replace(path=parts.path or "/", query=urlencode(query)))


def lan_address() -> str | None:
    """This machine's address on the LAN (the interface of the default route), or None when offline."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # UDP connect sends nothing; it only picks the outgoing interface
            ip = str(s.getsockname()[0])
        except OSError:
            return None
    return None if is_loopback(ip) else ip


def qr_png(url: str, scale: int = 8) -> bytes:
    """The QR code of ``url`` as PNG bytes; ``scale`` is pixels per module (8 → ≈ 300 px for a show URL)."""
    buf = io.BytesIO()
    segno.make(url, error="m").save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def qr_text(url: str) -> str:
    """The QR code of ``url`` drawn with half-block characters, for a terminal (dark text on light works best)."""
    buf = io.StringIO()
    segno.make(url, error="m").terminal(out=buf, compact=True)
    return buf.getvalue()
