"""Policy texts of our own for tests, shaped like a real company policy file: a provenance note
and a title above the text, an introduction, six Parts, a period stated in a sentence that
names no request (the requests are in the sentence before), and an amendment sentence that
happens to contain the word "posting". One paragraph a line, as policy files come."""

# ruff: noqa: E501

from __future__ import annotations

HEADER = ("This text was extracted and transformed from the larkspur.example privacy policy as "
          "archived on 2019-06-02; see the original snapshot for the exact wording.")

POLICY_2019 = f"""{HEADER}
Privacy Notice - Larkspur Cloud.
This notice explains how Larkspur Systems handles the information it gathers on its web sites and while selling and supporting its software. It covers anonymous data and personal information alike.
Part I. What We Collect
We gather personal information when you buy a licence, register a product, open an account or sign up for our newsletter. You may give us your name, e-mail address, postal and invoice addresses, and details of the licences you bought or registered.
Our sites place cookies on your device to remember your settings. A cookie is a short text file holding a random identifier that our servers read back on your next visit. Pages may also carry web beacons and clear pixels that report a visit much as a cookie does.
Should you not want your information used as this Part describes, follow Part III below.
We never direct our marketing at children under 13 and we do not knowingly gather their information for marketing.
Part II. How We Use It
We study how our software is used so that we can improve it.
Anonymous, aggregated statistics are reviewed every quarter to understand which features are popular and where quality suffers.
Personal information serves to deliver orders, to support you, and to send news of products and offers. You can tell us at any time that you no longer want marketing mail (we may still write to you about security problems in software you bought).
We pass information to partners whose services are part of the product; their own privacy notices then apply. Contractors who print invoices or run our mailing system receive what they need for that work and nothing more.
Our sites link to other web sites, which follow their own privacy rules; what they collect is governed by their notices, not ours.
Our forums offer space for postings and comments. Anything you post in those forums can be read by everyone.
We do not sell information gathered from our customers.
Part III. Your Information
If you want any of your personal information corrected or deleted, or want us to change how we use it, write to privacy@larkspur.example. We will deal with your request as quickly as we reasonably can and within no more than 30 days. Copies of deleted information may survive for a while in archival backups.
Part IV. Storage and Security
Our databases are protected with established industry methods, and only staff who need personal information for their work may see it. No operator of a web site can remove every security risk.
We may have to hand information to the authorities where the law requires it, and criminals may intercept transmissions despite our efforts.
Part V. Changes
We may change this notice at any time by posting the revised version on our web sites.
Part VI. Contact
Questions about this notice go to privacy@larkspur.example. We aim to settle disputes within 90 days.
"""

#: The next version: shorter periods for requests and disputes, otherwise the same.
POLICY_2026 = (POLICY_2019
               .replace("archived on 2019-06-02", "archived on 2026-03-01")
               .replace("within no more than 30 days", "within no more than 20 days")
               .replace("settle disputes within 90 days", "settle disputes within 60 days"))
