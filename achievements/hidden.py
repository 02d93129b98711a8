"""Hidden achievements: the one place that decides who sees their texts.

A request without credentials sees a hidden achievement's code, points, goal and rarity, but
a locked text in place of its name and description (and null for each language's own column),
unless the achievement is held by the user whose list is shown. Requests with credentials see
everything. The API's serializers (HiddenMaskMixin) and the pages (achievement_texts) both
ask `texts_revealed`, so the rule cannot drift between them.
"""

from django.utils.translation import gettext_lazy as _
from modeltranslation.utils import build_localized_fieldname

from core.languages import language_codes

LOCKED_NAME = _("Hidden achievement")
LOCKED_DESCRIPTION = _("Keep going to discover it.")


def request_has_credentials(request) -> bool:
    """True when the request is authenticated (a token or an operator's session)."""
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


def texts_revealed(achievement, *, credentials: bool, held: bool = False) -> bool:
    """Whether the real name and description of `achievement` may be shown."""
    return not achievement.hidden or credentials or held


def achievement_texts(achievement, *, credentials: bool, held: bool = False) -> tuple[str, str]:
    """(name, description) in the active language, or the locked texts when they are hidden."""
    if texts_revealed(achievement, credentials=credentials, held=held):
        return achievement.name, achievement.description
    return str(LOCKED_NAME), str(LOCKED_DESCRIPTION)


def mask_representation(data: dict) -> dict:
    """Replace the texts of a serialized achievement with the locked ones, in place."""
    data["name"], data["description"] = str(LOCKED_NAME), str(LOCKED_DESCRIPTION)
    for field in ("name", "description"):
        for code in language_codes():
            column = build_localized_fieldname(field, code)
            if column in data:
                data[column] = None
    return data
