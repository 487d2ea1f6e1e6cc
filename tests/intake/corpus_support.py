"""The provider corpora under tests/intake/corpus/<provider>/: loading, the test secrets, re-signing.

Each folder holds payload files in the provider's real format, a `<file>.headers.json` sidecar with
the HTTP headers it arrives with (signatures included), `expected.json` (file -> outcome, reason_code,
count) and a README.md naming the test secret. Files whose name starts with `bad_` are malformed.

After editing a payload, re-sign the folder's sidecars (signature headers only; other headers such as
a multipart boundary or Crisp's request timestamp are kept):

    /work/venv/bin/python -m tests.intake.corpus_support
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.intake.channels.base import ChannelConfig, RawRequest

CORPUS = Path(__file__).parent / "corpus"
PROVIDERS = ("whatsapp", "telegram", "webform", "crisp", "tawkto")

#: The receiving clock of every corpus test (the README's date); corpus timestamps are near it.
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)

#: Test secrets (also written in each folder's README.md). Not secrets of any real account.
SECRETS = {
    "whatsapp": "guardia-prueba-whatsapp-app-secret",
    "telegram": "guardia-prueba-telegram-secret-token",
    "webform": "guardia-prueba-webform-secret",
    "crisp": "guardia-prueba-crisp-plugin-secret",
    "tawkto": "guardia-prueba-tawkto-webhook-secret",
}
WHATSAPP_VERIFY_TOKEN = "guardia-prueba-verify-token"
WRONG_SECRET = "otro-secreto-que-no-es-el-configurado"
META_FILES = {"README.md", "expected.json"}


def config(**overrides: Any) -> ChannelConfig:
    """A ChannelConfig with every test secret and the fixed clock."""
    values: dict[str, Any] = {
        "whatsapp_app_secret": SECRETS["whatsapp"],
        "whatsapp_verify_token": WHATSAPP_VERIFY_TOKEN,
        "telegram_secret_token": SECRETS["telegram"],
        "webform_secret": SECRETS["webform"],
        "crisp_secret": SECRETS["crisp"],
        "tawkto_secret": SECRETS["tawkto"],
        "now": NOW,
    }
    values.update(overrides)
    return ChannelConfig(**values)


def unsigned_config(**overrides: Any) -> ChannelConfig:
    """No secrets at all: every normalizer skips its signature check (used by the property tests)."""
    return ChannelConfig(now=NOW, **overrides)


@dataclass(frozen=True)
class Case:
    provider: str
    name: str
    body: bytes
    headers: dict[str, str]
    expected: dict[str, Any]

    def request(self) -> RawRequest:
        return RawRequest(
            body=self.body, headers=dict(self.headers), url=f"https://guardia.example/webhooks/{self.provider}"
        )


def payload_files(provider: str) -> list[Path]:
    folder = CORPUS / provider
    return sorted(
        path for path in folder.iterdir() if path.name not in META_FILES and not path.name.endswith(".headers.json")
    )


def load_cases(provider: str) -> list[Case]:
    folder = CORPUS / provider
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    cases = []
    for path in payload_files(provider):
        sidecar = path.with_name(path.name + ".headers.json")
        headers = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.exists() else {}
        cases.append(Case(provider, path.name, path.read_bytes(), headers, expected.get(path.name, {})))
    return cases


# -- signing ----------------------------------------------------------------------------------------------------


def _hex(secret: str, message: bytes, algorithm: str = "sha256") -> str:
    return hmac.new(secret.encode(), message, getattr(hashlib, algorithm)).hexdigest()


SIGNATURE_HEADERS = {
    "whatsapp": ("X-Hub-Signature-256",),
    "telegram": ("X-Telegram-Bot-Api-Secret-Token",),
    "webform": ("X-Webform-Signature",),
    "crisp": ("X-Crisp-Signature",),
    "tawkto": ("X-Tawk-Signature",),
}
DEFAULT_CONTENT_TYPE = {"webform": "application/x-www-form-urlencoded"}


def signed_headers(provider: str, name: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
    """`headers` with the provider's signature for `body` (wrong for *wrong_signature*, none for *missing*)."""
    headers = {key: value for key, value in headers.items() if key not in SIGNATURE_HEADERS[provider]}
    headers.setdefault("Content-Type", DEFAULT_CONTENT_TYPE.get(provider, "application/json"))
    if "missing_signature" in name:
        return headers
    secret = WRONG_SECRET if "wrong_signature" in name else SECRETS[provider]
    if provider == "whatsapp":
        headers["X-Hub-Signature-256"] = "sha256=" + _hex(secret, body)
    elif provider == "telegram":
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    elif provider == "webform":
        headers["X-Webform-Signature"] = "sha256=" + _hex(secret, body)
    elif provider == "crisp":
        stamp = headers.setdefault("X-Crisp-Request-Timestamp", str(NOW_MS - 1500))
        headers["X-Crisp-Signature"] = _hex(secret, b"[" + stamp.encode() + b";" + body + b"]")
    elif provider == "tawkto":
        headers["X-Tawk-Signature"] = _hex(secret, body, "sha1")
    return headers


def sign_all() -> None:
    for provider in PROVIDERS:
        for path in payload_files(provider):
            sidecar = path.with_name(path.name + ".headers.json")
            current = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.exists() else {}
            headers = signed_headers(provider, path.name, path.read_bytes(), current)
            sidecar.write_text(json.dumps(headers, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sign_all()
