"""The apps depend one way, as the README's Architecture section draws them."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Lowest first: an app may import from the apps before it, never from those after it.
DEPENDENCY_ORDER = ["core", "users", "achievements", "stats", "webhooks", "events", "pages"]


def _imported_apps(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & {*DEPENDENCY_ORDER, "achievements_site"}


@pytest.mark.parametrize("app", DEPENDENCY_ORDER)
def test_an_app_imports_only_from_the_apps_below_it(app):
    allowed = set(DEPENDENCY_ORDER[: DEPENDENCY_ORDER.index(app) + 1])
    wrong = {
        str(path.relative_to(REPO)): sorted(_imported_apps(path) - allowed)
        for path in (REPO / app).rglob("*.py")
        if _imported_apps(path) - allowed
    }

    assert wrong == {}


def test_the_project_package_holds_only_configuration():
    modules = {path.name for path in (REPO / "achievements_site").glob("*.py")}

    assert modules == {"__init__.py", "settings.py", "urls.py", "wsgi.py", "asgi.py"}


def test_every_app_of_the_order_is_installed_in_that_order(settings):
    installed = [app for app in settings.INSTALLED_APPS if app in DEPENDENCY_ORDER]

    assert installed == DEPENDENCY_ORDER


def test_the_checker_sees_an_upward_import(tmp_path):
    module = tmp_path / "example.py"
    module.write_text("import os\nfrom stats.selectors import leaderboard\nimport users.models\n")

    assert _imported_apps(module) == {"stats", "users"}
