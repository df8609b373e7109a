"""The development PKI: a root, TSA, OCSP responder and CRL on loopback, for development only.

``pki`` creates and loads it (certificates and keys under ``<data>/devpki``), ``tsa`` and
``ocsp`` are the protocol cores without I/O, ``server`` serves them over HTTP.
"""

from sigarchive.devpki.ocsp import DevOcspResponder
from sigarchive.devpki.pki import (
    DEV_TSA_POLICY,
    DevCredential,
    DevPki,
    build_crl,
    ensure_dev_pki,
    stored_endpoint,
)
from sigarchive.devpki.server import BackgroundServer, DevPkiServer, bind_socket, create_app
from sigarchive.devpki.tsa import DevTsa

__all__ = [
    "DEV_TSA_POLICY",
    "BackgroundServer",
    "DevCredential",
    "DevOcspResponder",
    "DevPki",
    "DevPkiServer",
    "DevTsa",
    "bind_socket",
    "build_crl",
    "create_app",
    "ensure_dev_pki",
    "stored_endpoint",
]
