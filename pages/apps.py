from django.apps import AppConfig


class PagesConfig(AppConfig):
    """The public, server-rendered pages."""

    name = "pages"
    verbose_name = "Public pages"
