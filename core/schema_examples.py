# The Russian texts are Russian on purpose, not look-alike Latin letters.
# ruff: noqa: RUF001
"""Request and response examples for the OpenAPI schema, by operation id: what ReDoc and
Swagger UI show beside each operation. Plain data taken from the demo, so that this module,
like the rest of core, imports nothing from the apps. A list operation's example is one item:
drf-spectacular wraps it in the pagination envelope."""

from drf_spectacular.utils import OpenApiExample

_MASHA = {
    "username": "masha_k",
    "language": "ru",
    "created_at": "2026-11-20T13:24:00Z",
    "achievements_count": 12,
    "points": 690,
}
_NEW_USER = {
    "username": "lena.p",
    "language": "en",
    "created_at": "2026-12-03T09:15:00Z",
    "achievements_count": 0,
    "points": 0,
}
_ACHIEVEMENT = {
    "code": "against-all-odds",
    "points": 175,
    "name": "Against All Odds",
    "description": "Pass a final exam on your very last attempt.",
    "name_en": "Against All Odds",
    "name_ru": "Вопреки всему",
    "description_en": "Pass a final exam on your very last attempt.",
    "description_ru": "Сдайте итоговый экзамен с последней попытки.",
    "goal": 1,
    "hidden": False,
    "rule": None,
    "created_at": "2026-10-01T08:00:00Z",
}
_AWARD = {
    "achievement": "red-pen-mentor",
    "name": "Строгий, но справедливый",
    "description": "Проверьте 20 работ других участников.",
    "points": 100,
    "awarded_at": "2026-12-02T22:52:00Z",
}
_GRACE = {"username": "grace_h", "achievements_count": 12, "points": 2470}
_DMITRY = {"username": "dmitry.sokolov", "achievements_count": 22, "points": 818}
_NEWCOMER = {"username": "newbie", "achievements_count": 0, "points": 0}
_IVAN = {"username": "ivan", "achievements_count": 3, "points": 45}
_OLGA = {"username": "olga", "achievements_count": 2, "points": 45}
_STREAK = {
    "username": "masha_k",
    "longest_streak": 12,
    "streak_start": "2026-11-21",
    "streak_end": "2026-12-02",
}


_PROGRESS = {
    "achievement": "card-reader",
    "name": "Сто карточек",
    "description": "Прочитайте 100 карточек.",
    "steps": 70,
    "goal": 100,
    "percent": 70.0,
    "unlocked": False,
    "updated_at": "2026-12-02T21:10:00Z",
}
_ACTIVITY = {
    "id": 4812,
    "type": "award.granted",
    "user": "masha_k",
    "achievement": "red-pen-mentor",
    "points": 100,
    "at": "2026-12-02T22:52:00Z",
    "by": "demo-integration",
    "reason": None,
}
_WEBHOOK = {
    "id": 3,
    "url": "https://game.example.com/hooks/achievements",
    "events": ["award.granted"],
    "active": True,
    "disabled_reason": None,
    "created_at": "2026-12-01T10:00:00Z",
}
_DELIVERY = {
    "id": 991,
    "message_id": "msg_4812_3",
    "event_type": "award.granted",
    "activity_id": 4812,
    "status": "delivered",
    "attempts": 1,
    "last_response_code": 204,
    "last_error": "",
    "next_attempt_at": None,
    "created_at": "2026-12-02T22:52:01Z",
    "delivered_at": "2026-12-02T22:52:01Z",
}


def _request(value: dict) -> OpenApiExample:
    return OpenApiExample("Request", value=value, request_only=True)


def _response(value, status: str = "200", name: str = "Response") -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[status])


EXAMPLES: dict[str, list[OpenApiExample]] = {
    "v1_users_list": [_response(_MASHA)],
    "v1_users_create": [
        _request({"username": "lena.p", "language": "en"}),
        _response(_NEW_USER, "201"),
    ],
    "v1_users_retrieve": [_response(_MASHA)],
    "v1_users_partial_update": [
        _request({"language": "en"}),
        _response({**_MASHA, "language": "en"}),
    ],
    "v1_achievements_list": [_response(_ACHIEVEMENT)],
    "v1_achievements_create": [
        _request(
            {
                "points": 175,
                "name_en": "Against All Odds",
                "description_en": "Pass a final exam on your very last attempt.",
                "name_ru": "Вопреки всему",
                "description_ru": "Сдайте итоговый экзамен с последней попытки.",
            }
        ),
        _response(_ACHIEVEMENT, "201"),
    ],
    "v1_achievements_retrieve": [_response(_ACHIEVEMENT)],
    "v1_achievements_partial_update": [
        _request({"points": 200}),
        _response({**_ACHIEVEMENT, "points": 200}),
    ],
    "v1_users_achievements_list": [_response(_AWARD)],
    "v1_users_achievements_create": [
        _request({"achievement": "red-pen-mentor", "awarded_at": "2026-12-02T22:52:00Z"}),
        _response(_AWARD, "201", "Granted"),
        _response(_AWARD, "200", "Already held (unchanged)"),
    ],
    "v1_users_progress_list": [_response(_PROGRESS)],
    "v1_users_progress_create": [
        _request({"achievement": "card-reader", "increment": 5}),
        _response({**_PROGRESS, "steps": 75, "percent": 75.0, "unlocked_now": False}),
    ],
    "v1_activity_retrieve": [
        _response(
            {
                "results": [_ACTIVITY],
                "next": "https://achievements.example.com/api/v1/activity/?after=4812",
            }
        )
    ],
    "v1_webhooks_list": [_response(_WEBHOOK)],
    "v1_webhooks_create": [
        _request({"url": _WEBHOOK["url"], "events": ["award.granted"]}),
        _response({**_WEBHOOK, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "201"),
    ],
    "v1_webhooks_retrieve": [_response(_WEBHOOK)],
    "v1_webhooks_partial_update": [
        _request({"active": False}),
        _response({**_WEBHOOK, "active": False}),
    ],
    "v1_webhooks_deliveries_list": [_response(_DELIVERY)],
    "v1_events_create": [
        _request(
            {
                "events": [
                    {
                        "id": "quiz-7731",
                        "user": "masha_k",
                        "type": "quiz.passed",
                        "value": 1,
                        "occurred_at": "2026-12-02T21:09:00Z",
                    },
                    {"id": "quiz-7731", "user": "masha_k", "type": "quiz.passed"},
                    {"id": "quiz-7732", "user": "nobody", "type": "quiz.passed"},
                ]
            }
        ),
        _response(
            {
                "accepted": 1,
                "duplicates": 1,
                "rejected": 1,
                "results": [
                    {"id": "quiz-7731", "status": "accepted", "unlocked": ["card-reader"]},
                    {"id": "quiz-7731", "status": "duplicate", "unlocked": []},
                    {
                        "id": "quiz-7732",
                        "status": "rejected",
                        "errors": {"user": ["No user with that username."]},
                        "unlocked": [],
                    },
                ],
            }
        ),
    ],
    "v1_users_events_list": [
        _response(
            {
                "type": "quiz.passed",
                "count": 42,
                "sum": 42,
                "days": 17,
                "longest_streak": 6,
                "last_occurred_at": "2026-12-02T21:09:00Z",
            }
        )
    ],
    "api_root": [
        _response(
            {
                "users": "https://achievements.example.com/api/v1/users/",
                "achievements": "https://achievements.example.com/api/v1/achievements/",
                "stats": "https://achievements.example.com/api/v1/stats/",
            }
        )
    ],
    "v1_stats_most_achievements_retrieve": [
        _response({"achievements_count": 22, "users": [_DMITRY]})
    ],
    "v1_stats_most_points_retrieve": [_response({"points": 2470, "users": [_GRACE]})],
    "v1_stats_max_points_gap_retrieve": [
        _response({"difference": 2470, "users": [_GRACE, _NEWCOMER]})
    ],
    "v1_stats_min_points_gap_retrieve": [_response({"difference": 0, "users": [_OLGA, _IVAN]})],
    "v1_stats_streaks_list": [_response(_STREAK)],
    "v1_stats_leaderboard_list": [_response({**_GRACE, "rank": 1})],
    "v1_stats_achievements_list": [
        _response({**_ACHIEVEMENT, "holders": 232, "holders_percent": 11.51})
    ],
    "v1_stats_retrieve": [
        _response(
            {
                "most_achievements": {"achievements_count": 22, "users": [_DMITRY]},
                "most_points": {"points": 2470, "users": [_GRACE]},
                "max_points_gap": {"difference": 2470, "users": [_GRACE, _NEWCOMER]},
                "min_points_gap": {"difference": 0, "users": [_OLGA, _IVAN]},
                "streaks": {
                    "days": 7,
                    "count": 1,
                    "next": None,
                    "previous": None,
                    "results": [_STREAK],
                },
            }
        )
    ],
}
