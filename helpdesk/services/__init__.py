"""Use cases of the desk. Every rule lives here, shared by the CLI, the screens and the tests.

Each public function is one unit of work: it takes a :class:`~helpdesk.services.context.Desk`
first and keyword-only arguments after, checks the acting agent's rights, and returns plain read
models (frozen dataclasses), never ORM objects. Failures are :mod:`helpdesk.errors` exceptions.
"""

from helpdesk.services.context import Desk, open_desk

__all__ = ["Desk", "open_desk"]
