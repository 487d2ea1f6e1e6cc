"""How notify reaches people: one small adapter per provider behind one interface (`base.Transport`).

| transport | provider API | addresses |
| --------- | ------------ | --------- |
| whatsapp  | WhatsApp Cloud API `POST {base}/{phone_number_id}/messages` | the `wa_id` the webhook gave |
| telegram  | Telegram Bot API `sendMessage` | chat id |
| sms       | Twilio Messages API `/2010-04-01/Accounts/{sid}/Messages.json` | E.164 |
| email     | SMTP (STARTTLS, auth) with aiosmtplib | e-mail address |
| webhook   | Slack-compatible incoming webhook `{"text": ...}` | (the URL is the address) |
| outbox    | `<data_dir>/outbox.jsonl` (outbox.py): the demo, and every channel not configured | anything |

A transport sends one message and says what happened (`Outcome`): accepted by the provider (with the
provider's id), or failed with a reason code, whether trying again can help, and how long the provider
asked us to wait. It never retries by itself and never records anything: the notify handler owns the
delivery record and the retry schedule (crash-safe, across replicas), the transport only talks HTTP or SMTP.
"""

from .base import Outcome, Outgoing, Reason, Transport

__all__ = ["Outcome", "Outgoing", "Reason", "Transport"]
