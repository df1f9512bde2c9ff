import base64
import hashlib
import hmac
import time

import pytest
from standardwebhooks.webhooks import Webhook as ReferenceWebhook

from backend.automation.signing import SignatureError, new_secret, sign, signed_headers, verify


def test_signature_is_the_documented_hmac_of_id_timestamp_and_body():
    secret = new_secret()
    body = b'{"type":"run.finished"}'
    header = sign(secret, "msg_1", 1700000000, body)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, b"msg_1.1700000000." + body, hashlib.sha256).digest()).decode()
    assert secret.startswith("whsec_") and len(key) == 32
    assert header == f"v1,{expected}"


def test_reference_standard_webhooks_library_verifies_our_signatures():
    secret = new_secret()
    body = b'{"type":"run.failed","data":{"run":{"id":"x"}}}'
    headers = signed_headers(secret, "msg_abc", body)
    assert ReferenceWebhook(secret).verify(body, headers) == {
        "type": "run.failed",
        "data": {"run": {"id": "x"}},
    }


def test_our_verifier_accepts_the_reference_librarys_signatures():
    secret = new_secret()
    body = b'{"a":1}'
    now = int(time.time())
    reference = ReferenceWebhook(secret).sign("msg_ref", _datetime(now), body.decode())
    headers = {"Webhook-Id": "msg_ref", "Webhook-Timestamp": str(now), "Webhook-Signature": reference}
    assert verify(secret, headers, body) == "msg_ref"


def _datetime(seconds: int):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, tz=UTC)


@pytest.mark.parametrize(
    "change",
    [
        lambda h, b: (h | {"webhook-signature": "v1,AAAA"}, b),
        lambda h, b: (h, b + b" "),
        lambda h, b: (h | {"webhook-id": "msg_other"}, b),
        lambda h, b: (h | {"webhook-timestamp": str(int(h["webhook-timestamp"]) - 3600)}, b),
        lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b),
    ],
    ids=["bad-signature", "changed-body", "other-id", "stale-timestamp", "missing-header"],
)
def test_tampered_requests_fail_verification(change):
    secret = new_secret()
    body = b'{"type":"run.finished"}'
    headers, body = change(signed_headers(secret, "msg_1", body), body)
    with pytest.raises(SignatureError):
        verify(secret, headers, body)


def test_a_signature_made_with_another_secret_fails():
    body = b"{}"
    with pytest.raises(SignatureError):
        verify(new_secret(), signed_headers(new_secret(), "msg_1", body), body)
