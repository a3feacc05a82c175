"""Status callbacks reach no internal address: refused in any spelling when registered, and
checked again on every resolved address when sent, the connection going to the address checked
(a name that later resolves to loopback is not connected to), unless the organisation allows
the network (DSR_CALLBACK_ALLOWED_NETWORKS)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask

from dsr import db
from dsr.api.callback_addresses import IPAddress, parse_allowed_networks
from dsr.api.callbacks import (
    CallbackFailed,
    check_callback_url,
    deliver_due_callbacks,
    post_json,
    vetted_addresses,
)
from dsr.api.cli import api_group
from dsr.api.models import CallbackDeliveryStatus
from dsr.app import create_app
from dsr.config import Settings
from dsr.requests.workflow import Action
from dsr.scheduler.runs import SchedulerSettings
from tests.api.conftest import (
    SECRET_KEY,
    ApiCaller,
    CallbackReceiver,
    assert_problem,
    new_request,
    running_receiver,
    stored_counts,
)
from tests.api.test_api_callbacks import deliveries
from tests.conftest import MakeApp
from tests.factories import staff_moves

on_sqlite_and_postgresql = pytest.mark.databases("sqlite", "postgresql")

LOOPBACK = parse_allowed_networks("127.0.0.0/8")

INTERNAL_SPELLINGS = [
    "http://127.0.0.1/hook",
    "https://127.0.0.1/hook",
    "https://127.0.0.1./hook",
    "https://127.1/hook",
    "https://127.0.1/hook",
    "https://0177.0.0.1/hook",
    "https://0x7f.0.0.1/hook",
    "https://0x7f000001/hook",
    "https://0X7F000001/hook",
    "https://2130706433/hook",
    "https://017700000001/hook",
    "https://127.255.255.254:8443/hook",
    "https://localhost/hook",
    "https://LOCALHOST./hook",
    "https://api.localhost/hook",
    "https://[::1]/hook",
    "https://[0:0:0:0:0:0:0:1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:7f00:1]/hook",
    "https://[::]/hook",
    "https://0.0.0.0/hook",
    "https://0/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://[::ffff:169.254.169.254]/hook",
    "https://[fe80::1]/hook",
    "https://10.0.0.1/hook",
    "https://172.16.5.4/hook",
    "https://192.168.1.1/hook",
    "https://0xc0a80101/hook",
    "https://100.64.0.1/hook",
    "https://[fc00::1]/hook",
    "https://[fd12:3456::1]/hook",
    "https://224.0.0.1/hook",
    "https://[ff02::1]/hook",
    "https://240.0.0.1/hook",
    "https://255.255.255.255/hook",
    "https://[2002:7f00:1::1]/hook",  # 6to4 around 127.0.0.1
    "https://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 around 169.254.169.254
    "https://public@127.0.0.1/hook",
    "https://public.example:x@127.0.0.1/hook",
    "https://127.0.0.1\\@public.example/hook",
    "https://%31%32%37.0.0.1/hook",
    "https://[fe80::1%25eth0]/hook",
    "https://999.0.0.1/hook",
    "https://1.2.3.4.5/hook",
    "ftp://public.example/hook",
    "file:///etc/passwd",
    "gopher://public.example/hook",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("url", INTERNAL_SPELLINGS)
def test_internal_hosts_are_refused_in_every_spelling(url: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        check_callback_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://platform.example/hooks/dsr",
        "https://platform.example./h",
        "https://93.184.215.14/h",
        "https://[2606:4700:4700::1111]/h",
        "https://1.1.1.1:8443/h?source=dsr",
    ],
)
def test_public_hosts_are_accepted(url: str) -> None:
    assert check_callback_url(url) == url


@on_sqlite_and_postgresql
def test_registration_refuses_every_spelling_with_a_422_and_stores_nothing(
    app: Flask, platform: ApiCaller
) -> None:
    before = stored_counts(app)
    for url in INTERNAL_SPELLINGS:
        body = new_request(status_callback_urls=["https://platform.example/ok", url])
        problem = assert_problem(platform.post(body), 422)
        pointers = [error["pointer"] for error in problem["errors"]]
        assert pointers == ["/status_callback_urls"], url
        assert "127.0.0.1" not in json.dumps(problem)  # what was sent is not echoed
    assert stored_counts(app) == before


@on_sqlite_and_postgresql
def test_duplicate_urls_are_refused_as_the_document_says(app: Flask, platform: ApiCaller) -> None:
    document = platform.client.get("/api/v1/openapi.json").get_json()
    schema = document["components"]["schemas"]["RequestCreate"]["properties"]
    assert schema["status_callback_urls"]["uniqueItems"] is True
    before = stored_counts(app)
    twice = ["https://platform.example/h", "https://platform.example/h"]
    problem = assert_problem(platform.post(new_request(status_callback_urls=twice)), 422)
    assert problem["errors"][0]["pointer"] == "/status_callback_urls"
    assert stored_counts(app) == before


# --- at sending time --------------------------------------------------------------------------


@dataclass
class FakeResolver:
    """Answer each name from a table, as a DNS server under someone else's control would."""

    answers: dict[str, list[str]]
    asked: list[str]

    def __call__(self, host: str, _port: int) -> Sequence[IPAddress]:
        self.asked.append(host)
        return [ipaddress.ip_address(address) for address in self.answers[host]]


@on_sqlite_and_postgresql
def test_a_name_that_resolves_inside_when_sent_is_not_connected_to(
    make_app: MakeApp, callback_receiver: CallbackReceiver
) -> None:
    """Registered while public (nothing resolves a name then), the names resolve to internal
    addresses when the callback is sent: no connection, a permanent failure, no retry."""
    app = make_app()  # no network allowed
    from tests.api.conftest import issue_token

    platform = ApiCaller(app.test_client(), issue_token(app, "learner-platform"))
    port = callback_receiver.port
    names = {
        "rebound.platform.example": ["127.0.0.1"],
        "mixed.platform.example": ["93.184.215.14", "127.0.0.1"],
        "mapped.platform.example": ["::ffff:127.0.0.1"],
    }
    urls = [f"https://{name}:{port}/hook" for name in names]
    created = platform.post(new_request(status_callback_urls=urls))
    assert created.status_code == 201, created.get_data(as_text=True)
    reference = created.get_json()["reference"]
    staff_moves(db.get_engine(app), reference, Action.START_REVIEW)  # queued, not sent

    resolver = FakeResolver(names, [])
    engine = db.get_engine(app)
    report = deliver_due_callbacks(
        engine=engine, secret_key=SECRET_KEY, now=db.utcnow(), resolve=resolver
    )

    assert (report.sent, report.retried, report.failed) == (0, 0, 3)
    assert sorted(resolver.asked) == sorted(names)
    assert callback_receiver.connections_so_far() == 0
    failed = deliveries(app, reference)
    assert {d.status for d in failed} == {CallbackDeliveryStatus.FAILED}
    assert all(d.attempts == 1 for d in failed)
    for delivery in failed:
        assert delivery.last_error is not None
        assert "loopback" in delivery.last_error
        assert "DSR_CALLBACK_ALLOWED_NETWORKS" in delivery.last_error
        assert "127.0.0.1" not in delivery.last_error
    later = deliver_due_callbacks(
        engine=engine,
        secret_key=SECRET_KEY,
        now=db.utcnow() + dt.timedelta(days=2),
        resolve=resolver,
    )
    assert (later.sent, later.retried, later.failed) == (0, 0, 0)  # not retried
    assert callback_receiver.connections_so_far() == 0


@on_sqlite_and_postgresql
def test_an_allowed_network_is_called_on_the_vetted_address_with_the_name_as_host(
    make_app: MakeApp, callback_receiver: CallbackReceiver
) -> None:
    from tests.api.conftest import issue_token

    app = make_app(CALLBACK_ALLOWED_NETWORKS="10.0.0.0/8, 127.0.0.0/8")
    platform = ApiCaller(app.test_client(), issue_token(app, "learner-platform"))
    url = f"http://platform.internal:{callback_receiver.port}/hook"
    created = platform.post(new_request(status_callback_urls=[url]))
    assert created.status_code == 201, created.get_data(as_text=True)
    reference = created.get_json()["reference"]
    staff_moves(db.get_engine(app), reference, Action.START_REVIEW)

    report = deliver_due_callbacks(
        engine=db.get_engine(app),
        secret_key=SECRET_KEY,
        now=db.utcnow(),
        allowed_networks=parse_allowed_networks(app.config["CALLBACK_ALLOWED_NETWORKS"]),
        resolve=FakeResolver({"platform.internal": ["127.0.0.1"]}, []),
    )

    assert report.sent == 1
    (received,) = callback_receiver.wait_for(1)
    assert received.headers["host"] == f"platform.internal:{callback_receiver.port}"
    assert received.path == "/hook"
    assert callback_receiver.connections_so_far() == 1


def test_plain_http_leaves_no_allowed_network_when_sent() -> None:
    resolve = FakeResolver({"platform.example": ["93.184.215.14"]}, [])
    with pytest.raises(CallbackFailed) as refused:
        vetted_addresses("http://platform.example/hook", allowed_networks=LOOPBACK, resolve=resolve)
    assert refused.value.permanent
    assert "93.184" not in refused.value.reason
    https = vetted_addresses(
        "https://platform.example/hook", allowed_networks=LOOPBACK, resolve=resolve
    )
    assert https == [ipaddress.ip_address("93.184.215.14")]


def test_a_name_that_does_not_resolve_is_retried_later() -> None:
    def nothing(_host: str, _port: int) -> Sequence[IPAddress]:
        raise OSError("Name or service not known")

    with pytest.raises(CallbackFailed) as failed:
        vetted_addresses("https://gone.example/h", allowed_networks=(), resolve=nothing)
    assert not failed.value.permanent


# --- TLS: SNI and the certificate on the name, the connection to the vetted address -----------


@dataclass(frozen=True)
class Certificate:
    cert_file: Path
    key_file: Path


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    """A self-signed certificate for callbacks.platform.example."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "callbacks.platform.example")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("callbacks.platform.example")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = tmp_path / "cert.pem"
    key_file = tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_file, key_file)


@pytest.fixture
def tls_receiver(certificate: Certificate) -> Iterator[tuple[CallbackReceiver, list[str]]]:
    """A loopback receiver over TLS, with the server names its clients asked for (SNI)."""
    asked: list[str] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate.cert_file, certificate.key_file)

    def record_server_name(_socket: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
        asked.append(str(name))

    context.sni_callback = record_server_name
    with running_receiver(context) as receiver:
        yield receiver, asked


def test_tls_names_the_host_and_checks_its_certificate_on_the_vetted_address(
    certificate: Certificate, tls_receiver: tuple[CallbackReceiver, list[str]]
) -> None:
    receiver, asked = tls_receiver
    trust = ssl.create_default_context(cafile=str(certificate.cert_file))
    resolve = FakeResolver(
        {"callbacks.platform.example": ["127.0.0.1"], "other.platform.example": ["127.0.0.1"]},
        [],
    )
    url = f"https://callbacks.platform.example:{receiver.port}/hook"
    post_json(
        url,
        b"{}",
        {"Content-Type": "application/json"},
        5.0,
        allowed_networks=LOOPBACK,
        resolve=resolve,
        tls_context=trust,
    )
    (received,) = receiver.wait_for(1)
    assert asked == ["callbacks.platform.example"]
    assert received.headers["host"] == f"callbacks.platform.example:{receiver.port}"

    wrong = f"https://other.platform.example:{receiver.port}/hook"
    with pytest.raises(CallbackFailed) as refused:
        post_json(
            wrong,
            b"{}",
            {"Content-Type": "application/json"},
            5.0,
            allowed_networks=LOOPBACK,
            resolve=resolve,
            tls_context=trust,
        )
    assert refused.value.reason == "SSLCertVerificationError"
    assert len(receiver.received) == 1


# --- the setting ------------------------------------------------------------------------------


def test_the_allowed_networks_are_read_from_a_comma_separated_list() -> None:
    assert [str(n) for n in parse_allowed_networks(" 10.0.0.0/8, 127.0.0.0/8,fd00::/8 ")] == [
        "10.0.0.0/8",
        "127.0.0.0/8",
        "fd00::/8",
    ]
    assert parse_allowed_networks("") == ()
    settings = SchedulerSettings.from_settings(
        Settings.load({"DSR_CALLBACK_ALLOWED_NETWORKS": "10.0.0.0/8"}, config_file=False)
    )
    assert [str(n) for n in settings.callback_allowed_networks] == ["10.0.0.0/8"]


def test_a_network_that_cannot_be_read_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="DSR_CALLBACK_ALLOWED_NETWORKS: '10.0.0.0/33'"):
        create_app(
            {
                "TESTING": True,
                "DATABASE_URL": f"sqlite:///{tmp_path / 'store.sqlite3'}",
                "CALLBACK_ALLOWED_NETWORKS": "127.0.0.0/8,10.0.0.0/33",
            }
        )
    refused = CliRunner().invoke(
        api_group,
        ["callbacks", "send", "--database-url", f"sqlite:///{tmp_path / 'x.sqlite3'}"],
        env={"DSR_SECRET_KEY": SECRET_KEY, "DSR_CALLBACK_ALLOWED_NETWORKS": "intranet"},
    )
    assert refused.exit_code == 2
    assert "'intranet' is not a network" in refused.output
