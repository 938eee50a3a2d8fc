"""The Textual desk. Everything here talks to the database only through ``helpdesk.services``."""
