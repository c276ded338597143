"""The participants' upload server: serves the recorder page, takes recordings, reports what became of them.

One Tornado application runs both inside the console's Jupyter kernel (on the kernel's own asyncio loop) and
from ``exsampling serve`` (:mod:`exsampling.cli`). The HTTP contract is docs/http.md; the show's state (token,
prompt, open/closed) is a :class:`~exsampling.show_state.ShowState` the server reads and never owns.

``app``       :func:`make_app`, :func:`start` → :class:`Server` (``stop()``), :class:`PortInUse`
``handlers``  the request handlers and their shared :class:`~exsampling.server.handlers.Context`
``checks``    :class:`Refusal`, ``parse_location``/``parse_name``/``parse_upload_id``, ``sniff``/``sniff_photo``,
              :class:`RateLimiter` and the limits
``shapes``    the JSON bodies (``show_json``, ``recording_json``, ``sample_json``, ``map_sample_json`` …)
``network``   ``with_token``, ``lan_address``, ``ensure_certificate``, ``open_tunnel``, ``qr_png``/``qr_text``,
              :class:`TunnelError`, :class:`CertificateError`
"""
from __future__ import annotations

from .app import RECORDER_DIR, PortInUse, Server, make_app, start
from .checks import RateLimiter, Refusal, parse_location, parse_name
from .network import CertificateError, TunnelError, ensure_certificate, lan_address, qr_png, qr_text, with_token

__all__ = ["RECORDER_DIR", "CertificateError", "PortInUse", "RateLimiter", "Refusal", "Server", "TunnelError",
           "ensure_certificate", "lan_address", "make_app", "parse_location", "parse_name", "qr_png", "qr_text",
           "start", "with_token"]
