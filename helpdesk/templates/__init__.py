"""Shipped default reply templates: one TOML file per template and language (``NAME.LANG.toml``).

They are data, not code: :mod:`helpdesk.services.templates` reads them with importlib.resources
and seeds any that are missing into the ``reply_template`` table, where supervisors edit them.
"""
