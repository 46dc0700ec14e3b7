"""Corporate networks: the sandbox over TLS (a CA it makes), mutual TLS, the CA
bundle in each form and SSL_CERT_FILE, and a CONNECT proxy the test starts
(argument, HTTPS_PROXY, NO_PROXY, proxy=False)."""

from __future__ import annotations

import asyncio
import pathlib
import pickle
import shutil
from typing import Any, Iterator

import pytest
from conftest import SITI
from forward_proxy import ForwardProxy

from glair_vision import APIConnectionError, ConfigurationError, Sandbox, Vision

CALL = {"nik": SITI["nik"], "name": SITI["name"]}
NETWORK_VARIABLES = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
                     "NO_PROXY", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
                     "CURL_CA_BUNDLE"]


@pytest.fixture(autouse=True)
def no_network_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NETWORK_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def tls() -> Iterator[Sandbox]:
    with Sandbox(tls=True) as sb:
        yield sb


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    p = ForwardProxy("corp:pa55-w0rd")
    yield p
    p.close()


def bare(sb: Sandbox, **settings: Any) -> Vision:
    """A client for the sandbox with no TLS settings but those given."""
    return Vision(base_url=sb.url, **sb.credentials, **settings)


def test_the_sandbox_serves_https_and_its_clients_trust_it(tls: Sandbox) -> None:
    assert tls.url.startswith("https://127.0.0.1:")
    assert tls.ca_file is not None and tls.client_cert_file is None
    assert tls.vision().identity.verification(**CALL).verification_status

    async def call() -> bool:
        async with tls.async_vision() as vision:
            return (await vision.identity.verification(**CALL)).verification_status

    assert asyncio.run(call())


def test_each_form_of_ca_bundle(tls: Sandbox, tmp_path: pathlib.Path) -> None:
    ca = pathlib.Path(tls.ca_file or "")
    pem = ca.read_text()
    for bundle in [str(ca), ca, pem, pem.encode(), [str(ca)], (pem,)]:
        assert bare(tls, ca_bundle=bundle).identity.verification(**CALL).verification_status, bundle
    assert bare(tls, ca_bundle=ca, ca_bundle_only=True).identity.verification(**CALL).verification_status


def test_an_untrusted_server_is_a_connection_error_that_says_what_to_do(tls: Sandbox) -> None:
    before = len(tls.requests())
    with Sandbox(tls=True) as other:
        for vision in [bare(tls), bare(tls, ca_bundle=other.ca_file)]:
            with pytest.raises(APIConnectionError) as caught:
                vision.identity.verification(**CALL)
            message = str(caught.value)
            assert "does not trust" in message and "ca_bundle" in message and "SSL_CERT_FILE" in message
    assert len(tls.requests()) == before


def test_ssl_cert_file_is_honoured(tls: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", tls.ca_file or "")
    assert bare(tls).identity.verification(**CALL).verification_status
    # ca_bundle_only trusts the bundle alone: SSL_CERT_FILE no longer counts.
    with Sandbox(tls=True) as other:
        with pytest.raises(APIConnectionError):
            bare(tls, ca_bundle=other.ca_file, ca_bundle_only=True).identity.verification(**CALL)


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_requests_ca_bundle_is_honoured_as_requests_honours_it(
        tls: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path, variable: str,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(variable, tls.ca_file or "")
    assert bare(tls).identity.verification(**CALL).verification_status
    # A bundle given to the client is used instead; a stale variable is skipped with a warning.
    with Sandbox(tls=True) as other:
        with pytest.raises(APIConnectionError, match="does not trust"):
            bare(tls, ca_bundle=other.ca_file).identity.verification(**CALL)
    missing = tmp_path / "gone.pem"
    monkeypatch.setenv(variable, str(missing))
    with caplog.at_level("WARNING", logger="glair_vision"):
        vision = bare(tls)
    assert any(variable in r.getMessage() and "cannot be read" in r.getMessage() for r in caplog.records)
    with pytest.raises(APIConnectionError, match="does not trust"):
        vision.identity.verification(**CALL)


def test_mutual_tls(tmp_path: pathlib.Path) -> None:
    with Sandbox(tls=True, tls_client_auth=True, tls_dir=tmp_path) as sb:
        assert sb.ca_file == str(tmp_path / "ca.pem")
        assert sb.client_cert_file == str(tmp_path / "client.pem")
        assert sb.vision().identity.verification(**CALL).verification_status
        with pytest.raises(APIConnectionError, match="client certificate"):
            bare(sb, ca_bundle=sb.ca_file).identity.verification(**CALL)
        with pytest.raises(ConfigurationError, match="go together"):
            bare(sb, ca_bundle=sb.ca_file, client_cert=sb.client_cert_file)
        assert len(sb.requests()) == 1
    assert (tmp_path / "ca.pem").exists(), "a tls_dir is the caller's: kept"


def test_a_pickled_client_carries_the_pem_not_the_path(tls: Sandbox, tmp_path: pathlib.Path) -> None:
    # Dask and Spark workers get the client by pickle: they need no copy of the files.
    ca = tmp_path / "corp-ca.pem"
    shutil.copy(tls.ca_file or "", ca)
    vision = bare(tls, ca_bundle=ca)
    ca.unlink()
    arrived = pickle.loads(pickle.dumps(vision))
    assert arrived.identity.verification(**CALL).verification_status


def test_calls_go_through_the_proxy(tls: Sandbox, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    good = proxy.url("corp:pa55-w0rd@")
    assert tls.vision(proxy=good).identity.verification(**CALL).verification_status
    assert [(r.method, r.authorized) for r in proxy.requests] == [("CONNECT", True)]
    assert proxy.requests[0].target == tls.url.removeprefix("https://")

    monkeypatch.setenv("HTTPS_PROXY", good)
    assert tls.vision().identity.verification(**CALL).verification_status
    assert len(proxy.requests) == 2
    assert tls.vision(proxy=False).identity.verification(**CALL).verification_status
    assert len(proxy.requests) == 2, "proxy=False goes direct"
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert tls.vision().identity.verification(**CALL).verification_status
    assert len(proxy.requests) == 2, "NO_PROXY is honoured"


def test_a_refusing_proxy_is_an_error_without_its_credentials(tls: Sandbox, proxy: ForwardProxy) -> None:
    vision = tls.vision(proxy=proxy.url("corp:not-the-pa55@"), max_retries=0)
    with pytest.raises(APIConnectionError, match="proxy authorization required") as caught:
        vision.identity.verification(**CALL)
    assert "not-the-pa55" not in str(caught.value) and "not-the-pa55" not in repr(caught.value)
    assert "not-the-pa55" not in repr(vision)


def test_wrong_types_and_bad_settings_are_refused_before_anything_is_sent(tls: Sandbox) -> None:
    for settings in [dict(ca_bundle=123), dict(ca_bundle=[str(tls.ca_file), 5]), dict(proxy=True),
                     dict(proxy=8080), dict(ca_bundle_only="yes"), dict(client_cert=b"x", client_key=3)]:
        with pytest.raises(TypeError):
            bare(tls, **settings)
    for settings, message in [(dict(ca_bundle="/nonexistent/corp.pem"), "/nonexistent/corp.pem"),
                              (dict(ca_bundle=b"no certificate"), "holds no certificate"),
                              (dict(ca_bundle_only=True), "needs a CA bundle"),
                              (dict(proxy="ftp://u:secret-ftp@proxy:21"), "scheme")]:
        with pytest.raises(ConfigurationError, match=message) as caught:
            bare(tls, **settings)
        assert "secret-ftp" not in str(caught.value)
