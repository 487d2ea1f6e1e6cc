"""NATS users and permissions: each service may publish only what it produces (`guardia deploy nats-config`).

Nothing here is written by hand per service. What a service *sends* comes from the AsyncAPI document
(guardia/asyncapi: the declared producers of every event and raw subject, proven against the code by
tests/ops/test_asyncapi.py); what it *reads* and *keeps* comes from its runtime as `guardia run`
builds it (its durable consumers and KV buckets). So a new event, consumer or bucket changes the
permissions with the code, and `tests/deploy/test_nats_permissions.py` keeps deploy/nats-accounts.conf
current.

A service reads through durable *pull* consumers, so it never subscribes to an event subject: the
server delivers fetched messages and every JetStream answer to the service's own reply inbox
(`_INBOX_<service>.>`, connection.py), the only subject it may subscribe to. What it may read is
decided by which consumers it may create and pull (`$JS.API.CONSUMER.*.<stream>.<its durable>`) and
ack (`$JS.ACK.<stream>.<its durable>.>`). Publishing covers its events on `ev.*.*.<type>`, its
raw subjects (timers, number claims, its own dead letters `dlq.*.<service>`), its KV buckets
(`$KV.<bucket>.>`, direct gets) and the JetStream API calls its runtime makes (stream info, create
and update of the shared streams at start-up, purges of the timer stream it arms).

One more user, `admin`, has no restriction: `guardia migrate` (it runs every service's handlers) and
the operator's commands (`guardia events`, `dead-letters`, `notify status`...).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from guardia.asyncapi.document import Built, build_document, build_services
from guardia.bus.connection import inbox_prefix
from guardia.bus.topology import DEAD_LETTER_BODIES, STREAMS, TIMERS, TOKENS
from guardia.policy_applied import BUCKET as POLICIES_APPLIED

ADMIN = "admin"
ACCOUNT = "GUARDIA"
API = "$JS.API"

#: KV buckets a service reads that are not its own state: intake continues the ticket counter of the
#: installation before number claims (services/intake/numbers.py), read once per tenant at start.
EXTRA_READ_BUCKETS: dict[str, tuple[str, ...]] = {"intake": ("intake_counters",)}


@dataclass
class Permissions:
    """One NATS user's allow lists (everything else is denied by the server)."""

    publish: set[str] = field(default_factory=set)
    subscribe: set[str] = field(default_factory=set)


def subject_pattern(address: str, service: str) -> str:
    """An AsyncAPI address as the NATS pattern a sender needs: `{x}` becomes `*`, but `{service}` is the
    sender itself (a service writes only its own dead letters)."""
    return re.sub(r"\{[^}]+\}", "*", address.replace("{service}", service))


def _kv(permissions: Permissions, bucket: str, write: bool) -> None:
    stream = f"KV_{bucket}"
    permissions.publish |= {f"{API}.STREAM.INFO.{stream}", f"{API}.DIRECT.GET.{stream}",
                            f"{API}.DIRECT.GET.{stream}.>", f"{API}.STREAM.MSG.GET.{stream}"}
    if write:
        permissions.publish |= {f"$KV.{bucket}.>", f"{API}.STREAM.CREATE.{stream}", f"{API}.STREAM.UPDATE.{stream}"}


def _object_store(permissions: Permissions, name: str) -> None:
    """Put into (and create at start) an object store: its chunk and meta subjects, and the stream calls
    nats-py's ObjectStore makes (info, purge of a replaced object's chunks, meta reads)."""
    stream = f"OBJ_{name}"
    permissions.publish |= {f"$O.{name}.>", *(f"{API}.STREAM.{verb}.{stream}" for verb in
                                            ("INFO", "CREATE", "UPDATE", "PURGE", "MSG.GET")),
                            f"{API}.DIRECT.GET.{stream}", f"{API}.DIRECT.GET.{stream}.>"}


def _platform(permissions: Permissions, name: str) -> None:
    """What the platform does in every process, whatever the service: record the policy it runs with
    (guardia/policy_applied.py), keep dead-letter bodies too large for a message (runtime.dead_letter),
    and, in intake's gateway, check API tokens (read only; it may create the empty bucket at start)."""
    _kv(permissions, POLICIES_APPLIED, write=True)
    _object_store(permissions, DEAD_LETTER_BODIES)
    if name == "intake":
        _kv(permissions, TOKENS, write=False)
        permissions.publish |= {f"{API}.STREAM.CREATE.KV_{TOKENS}", f"{API}.STREAM.UPDATE.KV_{TOKENS}"}


def service_permissions(built: Built, document: Mapping[str, object]) -> Permissions:
    """What service `built.name` may publish and subscribe to."""
    name, rt = built.name, built.runtime
    p = Permissions(subscribe={f"{inbox_prefix(name)}.>"})
    channels: dict[str, dict[str, str]] = document["channels"]  # type: ignore[assignment]
    operations: dict[str, dict[str, dict[str, str]]] = document["operations"]  # type: ignore[assignment]
    for op_id, op in operations.items():
        if op_id.startswith(f"{name}.sends."):
            channel = op["channel"]["$ref"].removeprefix("#/channels/")
            p.publish.add(subject_pattern(channels[channel]["address"], name))
    p.publish.add(f"{API}.INFO")
    _platform(p, name)
    # every service declares the shared streams at start (topology.ensure_streams) and checks them (/readyz)
    for spec in STREAMS:
        p.publish |= {f"{API}.STREAM.{verb}.{spec.name}" for verb in ("INFO", "CREATE", "UPDATE")}
    for bucket in rt.bucket_names:
        _kv(p, bucket, write=True)
    for bucket in EXTRA_READ_BUCKETS.get(name, ()):
        _kv(p, bucket, write=False)
    streams = {stream for stream, _ in rt.consumer_configs()}
    for stream, config in rt.consumer_configs():
        durable = config.durable_name or ""
        p.publish |= {f"{API}.CONSUMER.CREATE.{stream}.{durable}", f"{API}.CONSUMER.CREATE.{stream}.{durable}.>",
                      f"{API}.CONSUMER.INFO.{stream}.{durable}", f"{API}.CONSUMER.MSG.NEXT.{stream}.{durable}",
                      f"$JS.ACK.{stream}.{durable}.>"}
    for stream in streams:
        # the stream a raw consumer reads may be the service's own (intake's number claims); /readyz lists it
        p.publish |= {f"{API}.STREAM.INFO.{stream}", f"{API}.CONSUMER.LIST.{stream}"}
        if not any(spec.name == stream for spec in STREAMS):
            p.publish |= {f"{API}.STREAM.CREATE.{stream}", f"{API}.STREAM.UPDATE.{stream}"}
    if rt.groups:  # a consumer of the layout before partitions makes the service refuse to start
        from guardia.bus.topology import EVENTS

        p.publish.add(f"{API}.CONSUMER.INFO.{EVENTS}.{name}")
    if any(s.startswith("timer.arm.") for s in p.publish) or any(r.purge_handled for r in rt.raw_consumers):
        p.publish.add(f"{API}.STREAM.PURGE.{TIMERS}")  # disarming a timer, dropping a handled firing
    return p


def all_permissions(services: Iterable[Built] | None = None) -> dict[str, Permissions]:
    """Every service's permissions, by user name (= service name)."""
    built = list(services if services is not None else build_services())
    document = build_document(built)
    return {b.name: service_permissions(b, document) for b in built}


def env_password(user: str) -> str:
    """The environment variable nats-server reads a user's password from (`--credentials env`)."""
    return f"GUARDIA_NATS_PASSWORD_{user.upper()}"


def _listed(items: Iterable[str], indent: str) -> list[str]:
    """One subject a line, sorted: a change of the code shows as a readable diff of the file."""
    return [f"{indent}{json.dumps(i)}" for i in sorted(items)]


def render(permissions: Mapping[str, Permissions], passwords: Mapping[str, str] | None = None) -> str:
    """The `accounts` block for nats.conf: account GUARDIA with JetStream, one user per service and admin.

    `passwords` None: each password is a `$GUARDIA_NATS_PASSWORD_<USER>` variable, which nats-server
    resolves from its own environment when it loads the file (the file then holds no secret and can be
    checked in). Otherwise the given passwords are written, quoted, and the file is a secret."""
    users = [*sorted(permissions), ADMIN]
    missing = [u for u in users if passwords is not None and not passwords.get(u)]
    if missing:
        raise ValueError(f"no password for user(s) {', '.join(missing)}")

    def password(user: str) -> str:
        return f"${env_password(user)}" if passwords is None else json.dumps(passwords[user])

    lines = [
        "# Generated by `guardia deploy nats-config`: one NATS user per guardia service, allowed to publish",
        "# only what it produces (guardia/natsauth.py). Do not edit by hand; generate it again.",
        "accounts {",
        f"  {ACCOUNT} {{",
        "    jetstream: enabled",
        "    users: [",
    ]
    for user in users:
        lines.append(f"      {{ user: {json.dumps(user)}, password: {password(user)}")
        if user in permissions:
            p = permissions[user]
            lines += ["        permissions: {", "          publish: { allow: [",
                      *_listed(p.publish, " " * 12), "          ] }", "          subscribe: { allow: [",
                      *_listed(p.subscribe, " " * 12), "          ] }", "        }"]
        lines.append("      }")
    lines += ["    ]", "  }", "}", ""]
    return "\n".join(lines)


def parse_credentials(text: str) -> dict[str, str]:
    """A credentials file: YAML (or JSON) mapping each user to its password."""
    import yaml

    doc = yaml.safe_load(text)
    if not isinstance(doc, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in doc.items()):
        raise ValueError("credentials file: expected a mapping of user name to password")
    return dict(doc)
