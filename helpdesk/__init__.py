"""helpdesk: the privacy support desk's domain, storage, services, importers and CLI.

This package never imports Textual or Rich; the terminal UI lives in ``screens``.
"""

__version__ = "0.1.0"
