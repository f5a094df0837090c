"""Azure for the sandbox: a fake ARM API for Azure ML, served over https on 127.0.0.1.

azure-ai-ml's MLClient reaches it through a custom cloud (`CLOUDRUN_AZURE_ARM_ENDPOINT`, see
cloudrun.providers.azure_client). Writes must be https: azure-core refuses to send a bearer token over
plain http, so the server makes a throw-away self-signed certificate at start and callers trust it through
REQUESTS_CA_BUNDLE. The routes and their strictness live in azure_fake_arm.py and azure_fake_routes.py, the
state they work on in azure_fake_state.py.

    sandbox = start(provision_delay_s=2.0)
    os.environ.update(environment(sandbox))   # then `cloudrun deploy ... --provider azure`
    sandbox.arm.faults.readiness_logs.append("CUDA out of memory")   # the next deployment fails its probe
    sandbox.stop()
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cloudrun.loopback import require_loopback
from cloudrun.sandbox.azure_fake_arm import FakeArm
from cloudrun.sandbox.http_fake import JsonHandler, RunningServer, start_server

SUBSCRIPTION = "00000000-0000-0000-0000-00000000c10d"
RESOURCE_GROUP = "cloudrun-sandbox"
WORKSPACE = "cloudrun-sandbox-ws"
LOCATION = "eastus"
SANDBOX_IMAGE = "cloudrunsandbox.azurecr.io/cloudrun/vllm-wrapper:v0.11.0-r2"


@dataclass
class AzureSandbox(RunningServer):
    """A running fake ARM server; `arm` holds its state and fault queues; `stop()` ends it."""

    url: str
    ca_file: str
    arm: FakeArm
    cert_dir: str

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.cert_dir, ignore_errors=True)


def start(port: int = 0, provision_delay_s: float = 0.0, *, location: str = LOCATION) -> AzureSandbox:
    """Return a fake Azure ML ARM API on https://127.0.0.1:port (0 = any free port), already serving.

    Endpoints and deployments stay Creating for `provision_delay_s` seconds, then Succeeded.
    """
    cert_dir = tempfile.mkdtemp(prefix="cloudrun-azure-fake-")
    cert_file, key_file = _self_signed_certificate(Path(cert_dir))
    arm = FakeArm(
        subscription=SUBSCRIPTION,
        resource_group=RESOURCE_GROUP,
        workspace=WORKSPACE,
        location=location,
        provision_delay_s=provision_delay_s,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert_file), str(key_file))
    with arm._lock:  # no request is answered before the fake knows its own URL
        server, thread = start_server(_handler(arm), port, "cloudrun-azure-fake", tls=context)
        arm.base_url = f"https://127.0.0.1:{server.server_address[1]}"
    return AzureSandbox(
        url=arm.base_url, ca_file=str(cert_file), arm=arm, server=server, cert_dir=cert_dir, thread=thread
    )


def environment(sandbox: AzureSandbox) -> dict[str, str]:
    """Return the environment that points cloudrun's Azure adapter at the sandbox, and only at it."""
    require_loopback(sandbox.url)
    return {
        "CLOUDRUN_AZURE_ARM_ENDPOINT": sandbox.url,
        "CLOUDRUN_SANDBOX_CREDENTIALS": "1",
        "AZURE_SUBSCRIPTION_ID": SUBSCRIPTION,
        "AZURE_RESOURCE_GROUP": RESOURCE_GROUP,
        "AZUREML_WORKSPACE_NAME": WORKSPACE,
        "REQUESTS_CA_BUNDLE": sandbox.ca_file,
        # The wrapper `cloudrun azure build-image` builds (as a real account would have it); the fake runs it.
        "CLOUDRUN_AZUREML_IMAGE": SANDBOX_IMAGE,
    }


def _handler(arm: FakeArm) -> type[JsonHandler]:
    class Handler(JsonHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            body = self.read_body()
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, document = arm.handle(self.command, self.path, headers, body)
            self.send_json(status, document, {"x-ms-request-id": "cloudrun-sandbox", **extra})

        do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _serve  # noqa: N815 - http.server's naming

    return Handler


def _self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """Write a one-day certificate for 127.0.0.1/localhost and its key; return (cert file, key file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    alt_names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_file.chmod(0o600)
    return cert_file, key_file
