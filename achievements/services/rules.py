"""Rules: an achievement whose progress is a user's measure of one event type.

The measures live in the `events` app, above this one. It registers two functions here from
its AppConfig.ready, so the catalog and award services reach them without importing upwards:
  - the evaluator, run when a rule is added or changed: it brings every user's progress to the
    measure (capped at the goal) and grants the achievement to those who reached it, at once;
  - the progress source: one user's measure for a rule, used when a revocation puts the
    progress back to the measure instead of to zero.
"""

from collections.abc import Callable

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError

from achievements.models import RULE_MEASURES, Achievement, validate_event_type
from users.models import User

Evaluator = Callable[..., None]
ProgressSource = Callable[..., int]

_registered: dict[str, Callable] = {}


def rules_register(
    *,
    evaluator: Evaluator,
    progress_source: ProgressSource,
    event_types_seen: Callable[[], list[str]],
) -> None:
    """Set the functions rules need from the events app (see the module docstring), and the
    list of event types seen so far (the admin suggests them)."""
    _registered["evaluator"] = evaluator
    _registered["progress_source"] = progress_source
    _registered["event_types_seen"] = event_types_seen


def rules_event_types_seen() -> list[str]:
    """Every event type received so far, for suggestions; empty without the events app."""
    return _registered["event_types_seen"]() if "event_types_seen" in _registered else []


def rule_validate(rule: object) -> tuple[str | None, str | None]:
    """(event type, measure) of a rule given as {"event", "measure"} or None; a
    ValidationError on `rule` naming what is wrong."""
    if rule is None:
        return None, None
    if not isinstance(rule, dict) or set(rule) != {"event", "measure"}:
        raise ValidationError(
            {"rule": ['Give {"event": <event type>, "measure": <measure>}, or null.']}
        )
    event, measure = rule["event"], rule["measure"]
    if not isinstance(event, str):
        raise ValidationError({"rule": ["The event type must be text."]})
    try:
        validate_event_type(event)
    except ValidationError:
        raise ValidationError(
            {
                "rule": [
                    "The event type must be 1 to 64 lowercase letters, digits, dots, hyphens "
                    "and underscores."
                ]
            }
        ) from None
    if measure not in RULE_MEASURES:
        raise ValidationError({"rule": [f"The measure must be one of {', '.join(RULE_MEASURES)}."]})
    return event, measure


def rule_evaluate(*, achievement: Achievement, by: AbstractBaseUser | None = None) -> None:
    """Bring progress toward `achievement` to its rule's measures and grant it to those who
    reached the goal (the caller holds the achievement row exclusively)."""
    if achievement.rule is not None and "evaluator" in _registered:
        _registered["evaluator"](achievement=achievement, by=by)


def rule_progress(*, user: User, achievement: Achievement) -> int:
    """The user's steps toward a rule-driven achievement: the measure, capped at the goal."""
    if achievement.rule is None or "progress_source" not in _registered:
        return 0
    return min(achievement.goal, _registered["progress_source"](user=user, achievement=achievement))
