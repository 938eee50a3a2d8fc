"""E-mail intake: reading exported info@ mail (.eml, mbox, Maildir), parsing it forgivingly,
recognising machine mail, suggesting a case kind, and filing each message exactly once.

The use cases (import, unmatched and quarantined items) are in
:mod:`helpdesk.services.intake`; this package holds the mail-specific machinery they use.
"""
