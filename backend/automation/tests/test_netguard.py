import contextlib
import ipaddress
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from backend.automation import netguard


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "0.0.0.0",
        "224.0.0.251",
        "240.0.0.1",
        "100.64.0.1",  # carrier-grade NAT: not global
        "::1",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
    ],
)
def test_private_loopback_link_local_multicast_and_reserved_addresses_are_refused(settings, address):
    settings.FLOWYARD_WEBHOOK_ALLOW_PRIVATE = False
    settings.FLOWYARD_WEBHOOK_ALLOWED_NETWORKS = []
    assert netguard.address_refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(settings, address):
    settings.FLOWYARD_WEBHOOK_ALLOW_PRIVATE = False
    assert netguard.address_refusal(ipaddress.ip_address(address)) is None


def test_the_admin_settings_allow_private_addresses_all_or_by_network(settings):
    settings.FLOWYARD_WEBHOOK_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert netguard.address_refusal(ipaddress.ip_address("10.9.9.9")) is None
    assert netguard.address_refusal(ipaddress.ip_address("192.168.0.1")) is not None
    settings.FLOWYARD_WEBHOOK_ALLOW_PRIVATE = True
    assert netguard.address_refusal(ipaddress.ip_address("192.168.0.1")) is None


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "http:///nohost",
        "http://user:pw@example.com/",
        "http://127.0.0.1/",
        "http://localhost:8000/",
    ],
)
def test_unusable_or_private_urls_are_refused_before_any_request(settings, url):
    settings.FLOWYARD_WEBHOOK_ALLOWED_NETWORKS = []
    with pytest.raises(netguard.Refused):
        netguard.check_url(url)


class _Server:
    def __init__(self, handler):
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                outer.hits.append(self.path)
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                handler(self)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.port = self.httpd.server_address[1]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _ok(handler):
    handler.send_response(200)
    handler.send_header("Content-Length", "2")
    handler.end_headers()
    handler.wfile.write(b"ok")


def test_a_host_name_resolving_to_loopback_is_refused_at_connection_time(settings, monkeypatch):
    settings.FLOWYARD_WEBHOOK_ALLOWED_NETWORKS = []
    server = _Server(_ok)
    real = netguard.socket.getaddrinfo

    def dns(host, port, *args, **kwargs):
        # A public-looking name whose DNS answer points inside (rebinding): only the resolved address tells.
        return real("127.0.0.1" if host == "hooks.example.test" else host, port, *args, **kwargs)

    monkeypatch.setattr(netguard.socket, "getaddrinfo", dns)
    try:
        answer = netguard.post(f"http://hooks.example.test:{server.port}/x", b"{}", {})
    finally:
        server.close()
    assert answer.status_code is None
    assert "loopback" in answer.error
    assert server.hits == []


def test_redirects_are_not_followed(settings):
    settings.FLOWYARD_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]

    def redirect(handler):
        handler.send_response(307)
        handler.send_header("Location", f"http://127.0.0.1:{handler.server.server_address[1]}/inside")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    server = _Server(redirect)
    try:
        answer = netguard.post(f"http://127.0.0.1:{server.port}/outside", b"{}", {})
    finally:
        server.close()
    assert answer.status_code == 307
    assert server.hits == ["/outside"]


def test_the_answer_is_read_up_to_the_size_cap(settings):
    settings.FLOWYARD_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.FLOWYARD_WEBHOOK_MAX_RESPONSE_BYTES = 1000

    def big(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(1_000_000))
        handler.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            handler.wfile.write(b"x" * 1_000_000)

    server = _Server(big)
    try:
        answer = netguard.post(f"http://127.0.0.1:{server.port}/big", b"{}", {})
    finally:
        server.close()
    assert answer.status_code == 200
    assert len(answer.body) == 1000


def test_a_silent_receiver_times_out(settings):
    import time

    settings.FLOWYARD_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.FLOWYARD_WEBHOOK_TIMEOUT_SECONDS = 0.3

    def slow(handler):
        time.sleep(1.5)
        _ok(handler)

    server = _Server(slow)
    try:
        answer = netguard.post(f"http://127.0.0.1:{server.port}/slow", b"{}", {})
    finally:
        server.close()
    assert answer.status_code is None
    assert "No answer within" in answer.error
