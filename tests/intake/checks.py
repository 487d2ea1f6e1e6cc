"""What every normalizer result must satisfy, whatever the input; and hypothesis strategies to feed them."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from services.intake.channels.base import REASON_CODES, CanonicalContact, Normalization
from services.intake.channels.text import hints
from shared.schemas import ContactReceived

#: Property tests stay fast (the intake suite runs in a few seconds): 80 examples of the structured
#: strategies (corpus mutations, raw bytes), 40 of the costlier ones (free-form JSON, multipart forms).
#: GUARDIA_FUZZ_EXAMPLES=5000 runs a deeper search by hand.
_EXAMPLES = int(os.environ.get("GUARDIA_FUZZ_EXAMPLES", "80"))
FUZZ = settings(max_examples=_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_LIGHT = settings(max_examples=max(1, _EXAMPLES // 2), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_contact(contact: CanonicalContact) -> None:
    """A contact the normalizer returns can become a contact.received event as it is."""
    assert contact.received_at.tzinfo is not None
    assert contact.received_at.utcoffset() == timedelta(0), "received_at must be UTC"
    customer = contact.customer
    assert customer.email or customer.phone or customer.channel_ids, "no way to reach the customer"
    assert contact.hints == hints(f"{contact.subject}\n{contact.body_text}")
    event = ContactReceived(
        contact_id="tenant:channel:id",
        channel=contact.channel,
        provider_message_id=contact.provider_message_id,
        customer=contact.customer,
        subject=contact.subject,
        body_text=contact.body_text,
        received_at=contact.received_at,
        attachments=contact.attachments,
        is_reply=contact.is_reply,
        thread_key=contact.thread_key,
        hints=contact.hints,
    )
    event.model_dump_json()  # serializable (no lone surrogates, nothing exotic)


def check_result(result: Normalization) -> None:
    assert isinstance(result, Normalization)
    assert result.outcome in ("emit", "update", "ignore", "duplicate", "reject")
    if result.outcome == "reject":
        assert result.reason_code in REASON_CODES
        assert not result.contacts
    if result.outcome in ("emit", "update"):
        assert result.contacts
    for contact in result.contacts:
        check_contact(contact)


# -- strategies -------------------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", " ", "1795442400", "2026-11-23T14:00:00Z", "2026-11-23T14:00:00", "text", "user", "\ud800"]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=15,
)

Path = tuple[str | int, ...]
DELETE = object()


def _paths(doc: Any, prefix: Path = ()) -> list[Path]:
    found: list[Path] = [prefix] if prefix else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found.extend(_paths(value, (*prefix, index)))
    return found


def _replace(doc: Any, path: Path, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        copy = dict(doc)
        if value is DELETE and not rest:
            copy.pop(head, None)
        else:
            copy[head] = _replace(doc[head], rest, value)
        return copy
    copy_list = list(doc)
    if value is DELETE and not rest:
        del copy_list[int(head)]
    else:
        copy_list[int(head)] = _replace(doc[int(head)], rest, value)
    return copy_list


@st.composite
def mutated(draw: Callable[..., Any], documents: list[Any]) -> bytes:
    """A valid provider document with one to three fields replaced by arbitrary JSON, or deleted."""
    doc = draw(st.sampled_from(documents))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        doc = _replace(doc, path, draw(st.one_of(json_values, st.just(DELETE))))
    return json.dumps(doc, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


def valid_documents(cases: list[Any]) -> list[Any]:
    """The JSON documents of a corpus' valid (non-`bad_`) payloads."""
    return [json.loads(case.body) for case in cases if not case.name.startswith("bad_")]
