"""Certificate authorities and server certificates for TLS tests, made with
the openssl command line (no Python package needed)."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Sequence


def _openssl(args: Sequence[str], cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed CA: (certificate, key), PEM files in `folder`."""
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    _openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
              "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
              "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
             folder)
    return cert, key


def make_server_cert(folder: Path, name: str, ca: tuple[Path, Path], names: Sequence[str]) -> tuple[Path, Path]:
    """A server certificate signed by `ca` for `names` (subjectAltName
    entries such as "DNS:localhost" or "IP:127.0.0.1"): (certificate, key)."""
    cert, key, request = folder / f"{name}.pem", folder / f"{name}.key", folder / f"{name}.csr"
    _openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key),
              "-out", str(request), "-subj", f"/CN={name}"], folder)
    extensions = folder / f"{name}.ext"
    extensions.write_text(f"subjectAltName={','.join(names)}\nextendedKeyUsage=serverAuth\n")
    _openssl(["x509", "-req", "-in", str(request), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
              "-out", str(cert), "-days", "2", "-extfile", str(extensions)], folder)
    return cert, key
