"""Corpus loading and checks for the email, Mailgun, SendGrid, Zadarma and Twilio normalizers.

Each tests/intake/corpus/<provider>/ folder holds request bodies, optional `<file>.headers.json` sidecars (the HTTP
headers, signatures included) and `expected.json` (file -> expected outcome and fields; an optional "request" entry
gives the method, query, internal URL and, for Twilio, the endpoint). The form-based corpora are written by
tests/intake/corpus/generate.py with the test secrets below; the email corpus is hand-written .eml files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.intake.channels.base import REASON_CODES, ChannelConfig, Normalization, RawRequest
from services.intake.channels.text import hints

CORPUS = Path(__file__).parent / "corpus"
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)

#: Test secrets (also in each folder's README.md and in corpus/generate.py). Not any real account's.
MAILGUN_SIGNING_KEY = "key-test-mailgun-3f9a1c"
SENDGRID_TOKEN = "sg-test-token-7b2e"
ZADARMA_SECRET = "zd-test-secret-51c0"
TWILIO_AUTH_TOKEN = "tw-test-token-12345"
PUBLIC_BASE_URL = "https://soporte.navegasoft.com"
ZADARMA_TIMEZONE = "America/Bogota"

DEFAULT_HEADERS = {"email": {"Content-Type": "message/rfc822"}}


def config(**overrides: Any) -> ChannelConfig:
    values: dict[str, Any] = {
        "mailgun_signing_key": MAILGUN_SIGNING_KEY,
        "sendgrid_token": SENDGRID_TOKEN,
        "zadarma_secret": ZADARMA_SECRET,
        "twilio_auth_token": TWILIO_AUTH_TOKEN,
        "public_base_url": PUBLIC_BASE_URL,
        "zadarma_timezone": ZADARMA_TIMEZONE,
        "replay_window_seconds": 300,
        "now": NOW,
    }
    values.update(overrides)
    return ChannelConfig(**values)


@dataclass(frozen=True)
class Case:
    provider: str
    name: str
    body: bytes
    headers: dict[str, str]
    expected: dict[str, Any]

    @property
    def endpoint(self) -> str:
        return str(self.expected.get("request", {}).get("endpoint", ""))

    def request(self) -> RawRequest:
        extra = self.expected.get("request", {})
        return RawRequest(
            body=self.body,
            headers=dict(self.headers),
            url=extra.get("url", f"https://guardia.internal/webhooks/{self.provider}"),
            method=extra.get("method", "POST"),
            query=dict(extra.get("query", {})),
        )

    def __str__(self) -> str:
        return self.name


def load_cases(provider: str) -> list[Case]:
    folder = CORPUS / provider
    expected: dict[str, dict[str, Any]] = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    cases = []
    for name, wanted in sorted(expected.items()):
        sidecar = folder / f"{name}.headers.json"
        headers = (
            json.loads(sidecar.read_text(encoding="utf-8"))
            if sidecar.exists()
            else dict(DEFAULT_HEADERS.get(provider, {}))
        )
        cases.append(Case(provider, name, (folder / name).read_bytes(), headers, wanted))
    return cases


def corpus_files(provider: str) -> set[str]:
    folder = CORPUS / provider
    return {
        path.name
        for path in folder.iterdir()
        if path.name not in ("README.md", "expected.json") and not path.name.endswith(".headers.json")
    }


def check_invariants(result: Normalization) -> None:
    """What every Normalization must satisfy, whatever the input."""
    assert isinstance(result, Normalization)
    assert result.outcome in ("emit", "update", "ignore", "duplicate", "reject")
    if result.outcome == "reject":
        assert result.reason_code in REASON_CODES
        assert result.reason
        assert not result.contacts
    if result.outcome in ("emit", "update"):
        assert result.contacts
    for contact in result.contacts:
        assert contact.received_at.tzinfo is not None
        assert contact.received_at.utcoffset() == timedelta(0)
        assert contact.provider_message_id
        assert len(contact.provider_message_id) <= 400
        assert len(contact.subject) <= 998
        assert len(contact.body_text) <= 100_000
        assert contact.hints == hints(f"{contact.subject}\n{contact.body_text}")
        contact.model_dump_json()  # serializable: no lone surrogates or other unencodable text


def check_case(case: Case, result: Normalization) -> None:
    wanted = case.expected
    check_invariants(result)
    assert result.outcome == wanted["outcome"], (case.name, result.reason_code, result.reason)
    if "reason_code" in wanted:
        assert result.reason_code == wanted["reason_code"], (case.name, result.reason)
    assert len(result.contacts) == wanted.get("count", len(result.contacts)), case.name
    if "reason_contains" in wanted:
        assert wanted["reason_contains"] in result.reason, (case.name, result.reason)
    if "reply" in wanted:
        assert result.reply == wanted["reply"]
    if not result.contacts:
        return
    contact = result.contacts[0]
    for text in wanted.get("body_text_contains", []):
        assert text in contact.body_text, (case.name, text, contact.body_text)
    for text in wanted.get("body_text_excludes", []):
        assert text not in contact.body_text, (case.name, text, contact.body_text)
    if "attachments" in wanted:
        assert [a.name for a in contact.attachments] == wanted["attachments"], case.name
    if "attachment_references" in wanted:
        assert [a.reference for a in contact.attachments] == wanted["attachment_references"], case.name
    if "attachment_sizes" in wanted:
        assert [a.size for a in contact.attachments] == wanted["attachment_sizes"], case.name
    simple = {
        "subject": contact.subject,
        "provider_message_id": contact.provider_message_id,
        "thread_key": contact.thread_key,
        "is_reply": contact.is_reply,
        "customer_email": contact.customer.email,
        "customer_name": contact.customer.name,
        "customer_phone": contact.customer.phone,
        "channel": contact.channel.value,
        "raw_event": contact.raw_event,
        "received_at": contact.received_at.isoformat(),
        "hints": contact.hints,
    }
    for key, value in simple.items():
        if key in wanted:
            assert value == wanted[key], (case.name, key, value)
    if "provider_message_id_prefix" in wanted:
        assert contact.provider_message_id.startswith(wanted["provider_message_id_prefix"]), case.name
