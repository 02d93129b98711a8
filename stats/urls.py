from django.urls import path

from stats import api

urlpatterns = [
    path("stats/", api.SummaryView.as_view(), name="stats-summary"),
    path(
        "stats/most-achievements/",
        api.MostAchievementsView.as_view(),
        name="stats-most-achievements",
    ),
    path("stats/most-points/", api.MostPointsView.as_view(), name="stats-most-points"),
    path("stats/max-points-gap/", api.MaxPointsGapView.as_view(), name="stats-max-points-gap"),
    path("stats/min-points-gap/", api.MinPointsGapView.as_view(), name="stats-min-points-gap"),
    path("stats/streaks/", api.StreaksView.as_view(), name="stats-streaks"),
    path("stats/leaderboard/", api.LeaderboardView.as_view(), name="stats-leaderboard"),
    path("stats/achievements/", api.AchievementStatsView.as_view(), name="stats-achievements"),
]
