"""notify's choice of what to send, and the pure parts of the transports (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from guardia.settings import Settings
from services.notify.delivery import (
    AccountError,
    in_window,
    needs_template,
    outgoing,
    tenant_settings,
    tenant_transports,
    transports_from,
)
from services.notify.policy import NotifyPolicy, WhatsAppTemplate
from services.notify.transports.base import Outgoing
from services.notify.transports.smtp import SmtpSettings, build, message_id
from services.notify.transports.telegram import split
from services.notify.transports.whatsapp import payload
from shared.schemas import NotificationRequested

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
POLICY = NotifyPolicy(company="Navegasoft", signature="Equipo", official_channels="web",
                      whatsapp_templates={"acknowledgment": WhatsAppTemplate(name="acuse_recibo", language="es_MX")})


def requested(channel: str = "whatsapp", wrote: datetime | None = NOW - timedelta(hours=1),
              kind: str = "acknowledgment", **extra: object) -> NotificationRequested:
    return NotificationRequested(notification_id="T1:acknowledgment", kind=kind, audience="customer",
                                 channel=channel, to="5214425550187", body="Su tique es NS-000123",
                                 template="acuse.txt.j2", ticket_number="NS-000123", customer_wrote_at=wrote,
                                 **extra)


def test_free_text_goes_within_24_hours_of_the_customers_last_message() -> None:
    n = requested(wrote=NOW - timedelta(hours=23, minutes=59))
    assert in_window(n, NOW)
    assert outgoing(n, POLICY, NOW).template is None
    assert payload(outgoing(n, POLICY, NOW))["type"] == "text"


def test_after_24_hours_of_silence_the_approved_template_goes_instead() -> None:
    n = requested(wrote=NOW - timedelta(hours=25))
    message = outgoing(n, POLICY, NOW)
    assert message.template == ("acuse_recibo", "es_MX", ("NS-000123",))
    body = payload(message)
    assert body["type"] == "template" and body["template"]["name"] == "acuse_recibo"
    assert body["template"]["components"][0]["parameters"] == [{"type": "text", "text": "NS-000123"}]
    assert not needs_template(n, message, NOW)


def test_outside_the_window_without_a_template_nothing_pretends_to_send() -> None:
    n = requested(wrote=NOW - timedelta(days=2), kind="warning")
    assert needs_template(n, outgoing(n, POLICY, NOW), NOW)
    staff = requested(wrote=None, kind="emergency_alert")  # staff never wrote to the business number
    assert needs_template(staff, outgoing(staff, POLICY, NOW), NOW)


def test_whatsapp_goes_to_the_wa_id_and_quotes_the_customers_message() -> None:
    body = payload(outgoing(requested(reply_to="wamid.HBgM123"), POLICY, NOW))
    assert body["to"] == "5214425550187"  # as the webhook gave it, mobile digit kept
    assert body["messaging_product"] == "whatsapp"
    assert body["context"] == {"message_id": "wamid.HBgM123"}
    assert body["biz_opaque_callback_data"] == "T1:acknowledgment"  # ties status webhooks back


def test_an_email_answer_is_threaded_numbered_and_marked_automatic() -> None:
    n = requested(channel="email", reply_to="<abc@cliente.example>", references=["<root@cliente.example>"],
                  subject="No puedo timbrar")
    n = n.model_copy(update={"to": "ana@cliente.example"})
    mail = build(outgoing(n, POLICY, NOW), "Soporte <soporte@navegasoft.example>")
    assert mail["Subject"] == "[NS-000123] No puedo timbrar"
    assert mail["In-Reply-To"] == "<abc@cliente.example>"
    assert mail["References"] == "<root@cliente.example> <abc@cliente.example>"
    assert mail["Auto-Submitted"] == "auto-replied"  # RFC 3834: a direct answer, no out-of-office loops
    assert mail["Message-ID"] == message_id("T1:acknowledgment", "soporte@navegasoft.example")
    assert mail["Message-ID"].endswith("@navegasoft.example>")
    alert = build(Outgoing(notification_id="x", channel="email", to="a@b.example", body="b"), "s@n.example")
    assert alert["Auto-Submitted"] == "auto-generated"


def test_the_smtp_url_says_host_port_account_and_tls() -> None:
    s = SmtpSettings.from_url("smtp://soporte%40n.example:p%40ss@mail.n.example:2525?starttls=true")
    assert (s.host, s.port, s.username, s.password, s.start_tls, s.use_tls) == (
        "mail.n.example", 2525, "soporte@n.example", "p@ss", True, False)
    assert SmtpSettings.from_url("smtps://mail.n.example").port == 465


def test_a_long_telegram_text_is_split_at_paragraphs_under_the_limit() -> None:
    text = "\n\n".join(f"Párrafo {i}: " + "palabra " * 80 for i in range(20))
    parts = split(text)
    assert len(parts) > 1 and all(0 < len(p) <= 4096 for p in parts)
    assert " ".join(" ".join(p.split()) for p in parts) == " ".join(text.split())  # nothing lost
    assert split("x" * 9000) == ["x" * 4096, "x" * 4096, "x" * 808]


def test_an_email_goes_with_an_html_part_that_says_the_same_and_other_channels_get_none() -> None:
    bold = requested().model_copy(update={"body": "Tu tique es *NS-000123*"})
    mail = outgoing(bold.model_copy(update={"channel": "email", "to": "ana@cliente.co"}), POLICY, NOW)
    assert mail.body == "Tu tique es NS-000123"
    assert mail.html is not None and "<strong>NS-000123</strong>" in mail.html
    wa = outgoing(bold, POLICY, NOW)
    assert wa.html is None and wa.body == "Tu tique es *NS-000123*"


# -- a tenant's own accounts -----------------------------------------------------------------------------------------

INSTALLATION = Settings(whatsapp_access_token="EAAGinstallation", whatsapp_phone_number_id="111",
                        staff_webhook_url="http://127.0.0.1:9/hook", public_base_url="https://guardia.example")


def test_a_tenants_secrets_are_read_from_where_its_policy_says(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "token").write_text("EAAGmecodex\n", encoding="utf-8")
    monkeypatch.setenv("MECODEX_SMTP_URL", "smtp://soporte:clave@mail.mecodex.co:587")
    configured, own = tenant_settings(INSTALLATION, "mecodex", {
        "whatsapp_access_token": f"file:{tmp_path / 'token'}", "whatsapp_phone_number_id": "222",
        "smtp_url": "env:MECODEX_SMTP_URL", "mail_from": "soporte@mecodex.co"})
    assert own == {"whatsapp", "email"}
    assert (configured.whatsapp_access_token, configured.whatsapp_phone_number_id) == ("EAAGmecodex", "222")
    assert configured.smtp_url == "smtp://soporte:clave@mail.mecodex.co:587"
    assert configured.whatsapp_api_base_url == Settings.model_fields["whatsapp_api_base_url"].default
    assert configured.staff_webhook_url == INSTALLATION.staff_webhook_url  # not its own: the installation's


def test_a_secret_that_is_not_where_the_policy_says_stops_notify_naming_tenant_and_key(tmp_path: Path) -> None:
    with pytest.raises(AccountError, match=r"tenant mecodex: notify\.accounts\.telegram_bot_token: env:NOPE_X"):
        tenant_settings(INSTALLATION, "mecodex", {"telegram_bot_token": "env:NOPE_X"})
    with pytest.raises(AccountError, match="cannot read"):
        tenant_settings(INSTALLATION, "mecodex", {"telegram_bot_token": f"file:{tmp_path / 'missing'}"})


def test_a_tenants_own_sms_account_asks_twilio_for_no_callback_intake_could_not_verify(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WOLK_TWILIO_TOKEN", "f" * 32)
    configured, _ = tenant_settings(INSTALLATION, "wolk", {
        "twilio_account_sid": "AC" + "1" * 32, "twilio_auth_token": "env:WOLK_TWILIO_TOKEN", "twilio_from": "+1500"})
    assert configured.public_base_url == ""


def test_each_tenant_sends_through_its_own_account_and_the_others_through_the_installations(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MECODEX_WA", "EAAGmecodex")
    installation = transports_from(INSTALLATION)
    by_tenant = tenant_transports(INSTALLATION, {
        "navegasoft": {}, "mecodex": {"whatsapp_access_token": "env:MECODEX_WA", "whatsapp_phone_number_id": "222"},
    }, installation)
    assert by_tenant["navegasoft"]["whatsapp"] is installation["whatsapp"]
    assert by_tenant["mecodex"]["whatsapp"] is not installation["whatsapp"]
    assert by_tenant["mecodex"]["webhook"] is installation["webhook"]
