"""Settings and URLs for bench/load/run.py only: the site plus two floor views. Never in
production URLs; gunicorn loads it with DJANGO_SETTINGS_MODULE=loadbench_site.settings."""
