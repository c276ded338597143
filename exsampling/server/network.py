"""How participants reach the show: recorder URLs with the token, the LAN address, the self-signed certificate for
HTTPS on the LAN, the ngrok tunnel, and QR codes (PNG for the console, text for a terminal)."""
from __future__ import annotations

import io
import ipaddress
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import segno


class TunnelError(OSError):
    """The ngrok tunnel could not be opened (no binary, no network, bad token, …)."""


class CertificateError(OSError):
    """The self-signed certificate for HTTPS on the LAN could not be made."""


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


def ensure_certificate(folder: Path, addresses: list[str]) -> tuple[Path, Path]:
    """A self-signed certificate and key in ``folder`` (``cert.pem``/``key.pem``), made with openssl on first use.

    The certificate names localhost, 127.0.0.1 and ``addresses``; it lasts 825 days (the longest Apple
    devices accept). Raises :class:`CertificateError` when the ``openssl`` command is missing or fails.
    """
    cert, key = folder / "cert.pem", folder / "key.pem"
    if cert.exists() and key.exists():
        return cert, key
    openssl = shutil.which("openssl")
    if openssl is None:
        raise CertificateError("HTTPS on the LAN needs the 'openssl' command to make a certificate; install it, "
                               "or set [server] tls = false and give participants a tunnel (ngrok_token)")
    folder.mkdir(parents=True, exist_ok=True)
    names = ["DNS:localhost", "IP:127.0.0.1"] + [f"IP:{a}" for a in addresses]
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        new_cert, new_key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        result = subprocess.run(
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "825",
             "-subj", "/CN=ExSampling show", "-addext", f"subjectAltName={','.join(names)}",
             "-keyout", str(new_key), "-out", str(new_cert)],
            check=False, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise CertificateError(f"openssl could not make a certificate: {result.stderr.strip()[-300:]}")
        os.chmod(new_key, 0o600)
        new_key.replace(key)
        new_cert.replace(cert)
    return cert, key


def open_tunnel(port: int, auth_token: str) -> tuple[str, Callable[[], None]]:
    """An ngrok HTTPS tunnel to ``http://127.0.0.1:<port>``: its public URL and the call that closes it.

    Blocking (pyngrok may download the ngrok binary first). Raises :class:`TunnelError` with ngrok's reason.
    """
    from pyngrok import conf, ngrok
    from pyngrok.exception import PyngrokError

    config = conf.PyngrokConfig(auth_token=auth_token, monitor_thread=False)
    try:
        tunnel = ngrok.connect(f"127.0.0.1:{port}", "http", pyngrok_config=config)
    except PyngrokError as exc:
        raise TunnelError(f"the ngrok tunnel could not start ({exc}); participants can still use the LAN "
                          "address, or remove the ngrok token ([server] ngrok_token, NGROK_AUTHTOKEN)") from exc
    public_url = str(tunnel.public_url)

    def close() -> None:
        ngrok.disconnect(public_url, pyngrok_config=config)

    return public_url, close


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
