"""Database backends: Django's, with django-prometheus' query metrics, and a health check that
costs no round trip while the connection is plainly alive."""
