"""django-modeltranslation registration: one name/description column per language in LANGUAGES."""

from django.conf import settings
from modeltranslation.translator import TranslationOptions, register

from achievements.models import Achievement


@register(Achievement)
class AchievementTranslationOptions(TranslationOptions):
    fields = ("name", "description")
    # English is the fallback for every other language, so it must always be present.
    required_languages = (settings.LANGUAGE_CODE,)
