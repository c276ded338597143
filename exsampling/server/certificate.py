"""The LAN listener's certificate, and the show's own certificate authority (``exsampling ca``).

Phones only give a page the microphone over HTTPS, and a laptop on a venue's LAN has no certificate a public
authority would sign: so the laptop makes one (with the ``openssl`` command) naming ``localhost``, 127.0.0.1
and its LAN addresses. It is made again when the addresses change (another venue) or it nears its end.

A phone warns once about a self-signed certificate. House devices can instead trust the show's own authority,
installed once (:func:`ensure_authority`: its certificate, and an iOS configuration profile); when one exists,
the LAN certificate is signed by it and those devices see no warning. The authority may only vouch for
private, loopback and documentation addresses and ``localhost`` (X.509 name constraints), so its key, kept in
the library, can never impersonate a site on the Internet.
"""
from __future__ import annotations

import hashlib
import os
import plistlib
import re
import shutil
import ssl
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

#: A certificate is renewed when it has fewer days than this left.
RENEW_DAYS = 30
#: Days a LAN certificate lasts: the longest Apple devices accept.
CERT_DAYS = 825
#: What the show's authority may vouch for (network/mask): private, loopback, link-local, carrier-grade NAT,
#: the documentation ranges, and their IPv6 counterparts.
PERMITTED = ("IP:10.0.0.0/255.0.0.0", "IP:172.16.0.0/255.240.0.0", "IP:192.168.0.0/255.255.0.0",
             "IP:127.0.0.0/255.0.0.0", "IP:169.254.0.0/255.255.0.0", "IP:100.64.0.0/255.192.0.0",
             "IP:192.0.2.0/255.255.255.0", "IP:198.51.100.0/255.255.255.0", "IP:203.0.113.0/255.255.255.0",
             "IP:::1/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "IP:fc00::/fe00::", "IP:fe80::/ffc0::",
             "DNS:localhost")


class CertificateError(OSError):
    """The certificate for HTTPS on the LAN (or the show's authority) could not be made."""


@dataclass(frozen=True)
class Authority:
    """The show's certificate authority: its certificate (PEM), key, and an iOS profile that installs it."""

    cert: Path
    key: Path
    profile: Path


def _openssl(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise CertificateError("HTTPS on the LAN needs the 'openssl' command to make a certificate; install it, "
                               "or set [server] tls = false and give participants a tunnel (ngrok_token)")
    result = subprocess.run([openssl, *args], check=False, capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise CertificateError(f"openssl could not make a certificate: {result.stderr.strip()[-300:]}")
    return result


def fingerprint(cert: Path) -> str:
    """The SHA-256 fingerprint of a PEM certificate, as browsers show it (``AB:CD:…``)."""
    der = ssl.PEM_cert_to_DER_cert(Path(cert).read_text())
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def names(cert: Path) -> set[str]:
    """The names a certificate is for, as ``DNS:x`` / ``IP:x``."""
    text = _openssl("x509", "-in", str(cert), "-noout", "-text").stdout
    alt = text.split("Subject Alternative Name:", 1)[1].splitlines()[1] if "Subject Alternative Name:" in text else ""
    return {("IP:" if kind.startswith("IP") else "DNS:") + value
            for kind, value in re.findall(r"(DNS|IP Address):([^,\s]+)", alt)}


def _fresh(cert: Path, wanted: set[str], authority: Authority | None) -> bool:
    if not wanted <= names(cert):
        return False
    if _openssl("x509", "-in", str(cert), "-noout", "-checkend", str(RENEW_DAYS * 86400), check=False).returncode:
        return False
    issuer = authority.cert if authority is not None else cert  # self-signed: its own issuer
    return _openssl("verify", "-CAfile", str(issuer), str(cert), check=False).returncode == 0


def ensure_certificate(folder: Path, addresses: list[str]) -> tuple[Path, Path]:
    """A certificate and key in ``folder`` (``cert.pem``/``key.pem``) for localhost, 127.0.0.1 and ``addresses``.

    Kept while it names every address, has more than :data:`RENEW_DAYS` days left and (once the show has an
    authority, see :func:`ensure_authority`) is signed by that authority; made anew otherwise, self-signed or
    signed by the authority. Raises :class:`CertificateError` when the ``openssl`` command is missing or fails.
    """
    folder = Path(folder)
    cert, key = folder / "cert.pem", folder / "key.pem"
    wanted = {"DNS:localhost", "IP:127.0.0.1"} | {f"IP:{a}" for a in addresses}
    authority = authority_in(folder)
    if cert.exists() and key.exists() and _fresh(cert, wanted, authority):
        return cert, key
    folder.mkdir(parents=True, exist_ok=True)
    alt = "subjectAltName=" + ",".join(sorted(wanted))
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        new_cert, new_key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        if authority is None:
            _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", str(CERT_DAYS),
                     "-subj", "/CN=ExSampling show", "-addext", alt, "-keyout", str(new_key), "-out", str(new_cert))
        else:
            request, extensions = Path(tmp) / "req.csr", Path(tmp) / "ext.cnf"
            _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=ExSampling show",
                     "-keyout", str(new_key), "-out", str(request))
            # Apple's rules for a certificate its devices trust: a server-auth EKU, names in the SAN.
            extensions.write_text(f"{alt}\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n"
                                  "keyUsage=critical,digitalSignature,keyEncipherment\n")
            _openssl("x509", "-req", "-in", str(request), "-CA", str(authority.cert), "-CAkey", str(authority.key),
                     "-set_serial", str(uuid.uuid4().int >> 64), "-days", str(CERT_DAYS), "-sha256",
                     "-extfile", str(extensions), "-out", str(new_cert))
        os.chmod(new_key, 0o600)
        new_key.replace(key)
        new_cert.replace(cert)
    return cert, key


def authority_in(folder: Path) -> Authority | None:
    """The show's authority kept under ``folder/ca``, or None when ``exsampling ca`` never made one."""
    ca = Path(folder) / "ca"
    found = Authority(ca / "exsampling-ca.pem", ca / "exsampling-ca-key.pem", ca / "exsampling.mobileconfig")
    return found if found.cert.exists() and found.key.exists() else None


def ensure_authority(folder: Path) -> Authority:
    """The show's certificate authority under ``folder/ca``: made on first use (10 years), with its iOS profile.

    Install its certificate once on house devices (the profile on iPhone/iPad); the LAN certificate made next
    is signed by it.
    """
    found = authority_in(folder)
    ca = Path(folder) / "ca"
    if found is None:
        ca.mkdir(parents=True, exist_ok=True)
        found = Authority(ca / "exsampling-ca.pem", ca / "exsampling-ca-key.pem", ca / "exsampling.mobileconfig")
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650",
                 "-subj", f"/CN=ExSampling show authority {uuid.uuid4().hex[:8]}",
                 "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                 "-addext", "nameConstraints=critical," + ",".join(f"permitted;{p}" for p in PERMITTED),
                 "-keyout", str(found.key), "-out", str(found.cert))
        os.chmod(found.key, 0o600)
    if not found.profile.exists():
        found.profile.write_bytes(mobileconfig(found.cert))
    return found


def mobileconfig(ca_cert: Path) -> bytes:
    """An iOS/iPadOS configuration profile (XML plist) that installs ``ca_cert`` as a trusted root."""
    der = ssl.PEM_cert_to_DER_cert(Path(ca_cert).read_text())
    stable = uuid.uuid5(uuid.NAMESPACE_URL, "exsampling:" + hashlib.sha256(der).hexdigest())  # same CA, same profile
    root = {"PayloadType": "com.apple.security.root", "PayloadVersion": 1, "PayloadContent": der,
            "PayloadCertificateFileName": "exsampling-ca.cer", "PayloadDisplayName": "ExSampling show authority",
            "PayloadDescription": "Lets this device open the ExSampling show's recorder without a warning.",
            "PayloadIdentifier": f"org.exsampling.ca.{stable}", "PayloadUUID": str(uuid.uuid5(stable, "root"))}
    return plistlib.dumps({
        "PayloadType": "Configuration", "PayloadVersion": 1, "PayloadContent": [root],
        "PayloadDisplayName": "ExSampling show", "PayloadIdentifier": f"org.exsampling.profile.{stable}",
        "PayloadUUID": str(stable), "PayloadRemovalDisallowed": False,
        "PayloadDescription": "Trust for the ExSampling show's recorder on this venue's network.",
    })

