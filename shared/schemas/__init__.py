"""guardia's event catalogue: one envelope, one class per event (past tense), explicit versions.

Importing this package registers every event, so `decode_event` knows them all.
"""

from .activities import ActivityInputItem, ActivityRecorded
from .base import REGISTRY, Envelope, Event, Payload, SchemaError, decode_event, event_subject, make_event
from .committee import CommitteeConvened
from .contacts import Attachment, ContactReceived, ContactUpdated, Customer, Standing
from .dead_letters import DeadLettered
from .notifications import NotificationFailed, NotificationRequested, NotificationSent
from .sla import (
    FollowUpDue,
    FollowUpExhausted,
    SlaBreached,
    SlaCancelled,
    SlaExempted,
    SlaMet,
    SlaPaused,
    SlaResumed,
    SlaRetargeted,
    SlaStarted,
    SlaWarning,
    Target,
)
from .tickets import (
    MessageAdded,
    NoteAdded,
    Reason,
    ReclassificationRequested,
    StatusChanged,
    TicketAssigned,
    TicketClassified,
    TicketEscalated,
    TicketMerged,
    TicketOpened,
)
from .vocabulary import Area, Category, Channel, Priority, Status, TenantId, TicketType

__all__ = [
    "REGISTRY",
    "ActivityInputItem",
    "ActivityRecorded",
    "Area",
    "Attachment",
    "Category",
    "Channel",
    "CommitteeConvened",
    "ContactReceived",
    "ContactUpdated",
    "Customer",
    "DeadLettered",
    "Envelope",
    "Event",
    "FollowUpDue",
    "FollowUpExhausted",
    "MessageAdded",
    "NoteAdded",
    "NotificationFailed",
    "NotificationRequested",
    "NotificationSent",
    "Payload",
    "Priority",
    "Reason",
    "ReclassificationRequested",
    "SchemaError",
    "SlaBreached",
    "SlaCancelled",
    "SlaExempted",
    "SlaMet",
    "SlaPaused",
    "SlaResumed",
    "SlaRetargeted",
    "SlaStarted",
    "SlaWarning",
    "Standing",
    "Status",
    "StatusChanged",
    "Target",
    "TenantId",
    "TicketAssigned",
    "TicketClassified",
    "TicketEscalated",
    "TicketMerged",
    "TicketOpened",
    "TicketType",
    "decode_event",
    "event_subject",
    "make_event",
]
