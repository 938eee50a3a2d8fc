"""Vocabulary of the desk: roles, case kinds and statuses, dispute stages, consent terms.

Plain enums with no storage or UI dependency, shared by the services, the CLI and the screens.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"


class CaseKind(StrEnum):
    QUESTION = "question"
    MARKETING_OPT_OUT = "marketing_opt_out"
    ACCESS = "access"
    CORRECTION = "correction"
    DELETION = "deletion"
    OBJECTION = "objection"
    DISPUTE = "dispute"
    UNDER_13 = "under_13"
    POSTING_REMOVAL = "posting_removal"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS: dict[CaseKind, str] = {
    CaseKind.QUESTION: "Question",
    CaseKind.MARKETING_OPT_OUT: "Marketing opt-out",
    CaseKind.ACCESS: "Access",
    CaseKind.CORRECTION: "Correction",
    CaseKind.DELETION: "Deletion",
    CaseKind.OBJECTION: "Objection / change of use",
    CaseKind.DISPUTE: "Dispute",
    CaseKind.UNDER_13: "Under-13 / parental",
    CaseKind.POSTING_REMOVAL: "Public posting removal",
}


class CaseStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    WAITING = "waiting"  # waiting on the customer; the policy clock keeps running
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def is_closed(self) -> bool:
        return self in CLOSED_STATUSES


CLOSED_STATUSES = frozenset({CaseStatus.RESOLVED, CaseStatus.CLOSED})
OPEN_STATUSES = frozenset(CaseStatus) - CLOSED_STATUSES


class DisputeStage(StrEnum):
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    RESOLUTION_PROPOSED = "resolution_proposed"
    RESOLVED = "resolved"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        """As people write it: "resolution proposed"."""
        return self.value.replace("_", " ")


class MessageDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    NOTE = "note"  # internal note, never sent to the customer


class ProductRelation(StrEnum):
    PURCHASE = "purchase"
    REGISTRATION = "registration"


class ConsentPurpose(StrEnum):
    MARKETING = "marketing"
    TRANSACTIONAL = "transactional"  # "crucial information about the product or services"


class ConsentAction(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


class Channel(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    POST = "post"
    ALL = "all"


class RecipientKind(StrEnum):
    """Who personal data may be disclosed to under the policy (Parts II and IV)."""

    INTEGRAL_PARTNER = "integral_partner"
    CONTRACTOR = "contractor"
    AFFILIATE = "affiliate"
    ACQUIRER = "acquirer"
    GOVERNMENT = "government"


class SuppressionReason(StrEnum):
    OPT_OUT = "opt_out"
    ERASURE = "erasure"
    UNDER_13 = "under_13"


class VerificationMethod(StrEnum):
    """How the person behind an access, correction or deletion request proved who they are."""

    EMAIL_CODE = "email_code"  # replied from the address on file with the desk's code
    IDENTITY_DOCUMENT = "identity_document"  # an identity document was seen
    POSTAL_LETTER = "postal_letter"  # a letter sent to the postal address on file came back
    PHONE_CALLBACK = "phone_callback"  # called back on the phone number on file
    SUPERVISOR_OVERRIDE = "supervisor_override"  # a supervisor decided without, with a reason

    @property
    def label(self) -> str:
        return VERIFICATION_LABELS[self]


VERIFICATION_LABELS: dict[VerificationMethod, str] = {
    VerificationMethod.EMAIL_CODE: "Reply with the code from the address on file",
    VerificationMethod.IDENTITY_DOCUMENT: "Identity document seen",
    VerificationMethod.POSTAL_LETTER: "Letter to the postal address on file answered",
    VerificationMethod.PHONE_CALLBACK: "Call-back to the phone number on file",
    VerificationMethod.SUPERVISOR_OVERRIDE: "Supervisor override (with a reason)",
}

#: Requests that release or change a person's data: the requester must be verified first.
VERIFIED_KINDS = frozenset({CaseKind.ACCESS, CaseKind.CORRECTION, CaseKind.DELETION})


class Queue(StrEnum):
    """Named case queues shown down the side of the desk and by ``helpdesk case list``."""

    MINE = "mine"
    UNASSIGNED = "unassigned"
    DUE_SOON = "due_soon"  # due within 7 days
    OVERDUE = "overdue"
    DISPUTES = "disputes"
    OPEN = "open"
    ALL = "all"
