"""The participants' upload server: serves the recorder page, takes recordings, reports what became of them.

One Tornado application runs both inside the console's Jupyter kernel (on the kernel's own asyncio loop) and
from ``exsampling serve`` (:mod:`exsampling.cli`). The HTTP contract is docs/http.md; the show's state (token,
prompt, open/closed) is a :class:`~exsampling.show_state.ShowState` the server reads and never owns.

``app``          :func:`make_app`, :func:`start` → :class:`Server` (``stop()``, ``drain()``), :class:`PortInUse`
``handlers``     the request handlers, their shared :class:`~exsampling.server.handlers.Context` (the processing
                 queue)
``uploads``      the upload route (:class:`~exsampling.server.uploads.Upload`) and its batch
                 :class:`~exsampling.server.uploads.Storer`
``stranded``     recordings whose processing failure could not be recorded, or that wait for disk space
``checks``       :class:`Refusal`, ``parse_location``/``parse_name``/``parse_upload_id``, ``sniff``/``check_photo``,
                 :class:`RateLimiter` and the limits
``shapes``       the JSON bodies (``show_json``, ``recording_json``, ``sample_json``, ``map_sample_json`` …)
``network``      ``with_token``, ``lan_address``, ``qr_png``/``qr_text``
``certificate``  the LAN certificate (renewed when the addresses change) and ``exsampling ca``'s authority,
                 :class:`CertificateError`, ``fingerprint``
``tunnel``       the show's one ngrok tunnel (:class:`~.tunnel.ShowTunnel`), :class:`TunnelError`
``connections``  the connection cap with idle eviction, the descriptor limit, one log line a minute per kind
"""
from __future__ import annotations

from .app import RECORDER_DIR, PortInUse, Server, make_app, start
from .certificate import CertificateError, ensure_certificate, fingerprint
from .checks import RateLimiter, Refusal, parse_location, parse_name
from .network import lan_address, qr_png, qr_text, with_token
from .tunnel import TunnelError

__all__ = ["RECORDER_DIR", "CertificateError", "PortInUse", "RateLimiter", "Refusal", "Server", "TunnelError",
           "ensure_certificate", "fingerprint", "lan_address", "make_app", "parse_location", "parse_name", "qr_png",
           "qr_text", "start", "with_token"]
