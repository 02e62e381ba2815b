"""Credentials for secure runs: a CA and the AP's TLS certificate, and the EC key pairs
(OpenSSH format, as Flower's SuperNode authentication reads them) of user devices."""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ap_server.superlink import Tls

__all__ = ["make_tls", "make_node_keys", "planned_files", "certificate_names_host", "plan_certs", "CertsPlan",
           "CertsError", "TLS_FILES"]


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "semalign"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_private(path: Path, data: bytes) -> None:
    """Owner-only from the first byte (no window in which the key is readable by others)."""
    if path.exists() and not path.is_symlink():
        os.chmod(path, 0o600)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


TLS_FILES = ("ca.pem", "server.pem", "server.key")


def planned_files(folder: Path, users: int) -> list[Path]:
    """Every file ``make_tls`` and ``make_node_keys`` for ``users`` users write into ``folder``."""
    names = [*TLS_FILES] + [n for k in range(users) for n in (f"user-{k}", f"user-{k}.pub")]
    return [folder / n for n in names]


def certificate_names_host(cert: Path, host: str) -> bool:
    """Whether the certificate's subject alternative names include ``host`` (an IP address or a DNS name)."""
    c = x509.load_pem_x509_certificate(cert.read_bytes())
    try:
        names = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    try:
        return ipaddress.ip_address(host) in names.get_values_for_type(x509.IPAddress)
    except ValueError:  # a DNS name: compared without case, as DNS does
        return host.lower() in {n.lower() for n in names.get_values_for_type(x509.DNSName)}


class CertsError(ValueError):
    """What ``semalign certs`` was asked to do would lose or mix up credentials."""


@dataclass(frozen=True)
class CertsPlan:
    tls: bool  # make a new CA and AP certificate
    host: str  # the AP address the new certificate is for
    users: list[int]  # users whose key pairs are made


def plan_certs(folder: Path, users: int, host: str | None, *, force: bool = False,
               only_missing: bool = False) -> CertsPlan:
    """What to write into ``folder``: never replace a file unless ``force``; with ``only_missing`` keep a complete
    CA + certificate (refusing a ``host`` it does not name) and complete key pairs, and make the rest."""
    if users < 0:
        raise CertsError("--users must be ≥ 0")
    if force and only_missing:
        raise CertsError("--force and --only-missing exclude each other")
    existing = {p.name for p in planned_files(folder, users) if p.exists() or p.is_symlink()}
    if existing and not (force or only_missing):
        raise CertsError(f"{folder} already holds {', '.join(sorted(existing))}: new keys would replace them and every "
                         "SuperNode or AP set up with the old ones would stop connecting (--only-missing adds what is "
                         "missing, e.g. keys for more users; --force replaces them)")
    keep = existing if only_missing else set()
    tls_kept = [n for n in TLS_FILES if n in keep]
    if tls_kept and len(tls_kept) < len(TLS_FILES):
        raise CertsError(f"{folder} holds only part of the AP's TLS files ({', '.join(tls_kept)}); "
                         "make them afresh with --force")
    half = [next(n for n in (f"user-{k}", f"user-{k}.pub") if n in keep) for k in range(users)
            if (f"user-{k}" in keep) != (f"user-{k}.pub" in keep)]
    if half:
        raise CertsError(f"{folder} holds half of a key pair: {', '.join(half)}; delete that file and run again "
                         "to make the pair afresh (--force would also replace the CA)")
    if tls_kept and host is not None:
        try:
            named = certificate_names_host(folder / "server.pem", host)
        except (OSError, ValueError) as e:
            raise CertsError(f"cannot read the kept AP certificate {folder / 'server.pem'}: {e}; "
                             "--force makes a new set") from None
        if not named:
            raise CertsError(f"the AP certificate kept in {folder} is not valid for --host {host}; "
                             "--force makes a new CA and certificate for it (users must then get the new ca.pem)")
    return CertsPlan(tls=not tls_kept, host=host or "127.0.0.1",
                     users=[k for k in range(users) if f"user-{k}" not in keep])


def make_tls(folder: Path, host: str = "127.0.0.1", days: int = 30) -> Tls:
    """A fresh CA (``ca.pem``) and an AP server certificate (``server.pem``/``server.key``)
    valid for ``host``, ``127.0.0.1`` and ``localhost``."""
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca = (x509.CertificateBuilder().subject_name(_name("semalign CA")).issuer_name(_name("semalign CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    try:
        ip = ipaddress.ip_address(host)
        if str(ip) != "127.0.0.1":
            names.append(x509.IPAddress(ip))
    except ValueError:
        names.append(x509.DNSName(host))
    key = ec.generate_private_key(ec.SECP384R1())
    cert = (x509.CertificateBuilder().subject_name(_name(host)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    tls = Tls(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    tls.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    tls.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(tls.key, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    return tls


def make_node_keys(folder: Path, name: str) -> tuple[Path, Path]:
    """An EC (NIST P-384) key pair for SuperNode authentication: ``name`` and ``name.pub``."""
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP384R1())
    priv, pub = folder / name, folder / f"{name}.pub"
    _write_private(priv, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                           serialization.NoEncryption()))
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH))
    return priv, pub
