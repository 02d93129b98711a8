"""The public pages' routes, under the `pages` namespace."""

from django.urls import path

from pages import views

app_name = "pages"

urlpatterns = [
    path("", views.home, name="home"),
    path("leaderboard/", views.leaderboard, name="leaderboard"),
    path("streaks/", views.streaks, name="streaks"),
    path("search/", views.user_search_page, name="search"),
    # Usernames are letters, digits and @ . + - _: never a slash.
    path("users/<str:username>/", views.user_detail, name="user"),
    path("achievements/", views.achievement_list, name="achievements"),
    path("achievements/<str:code>/", views.achievement_detail, name="achievement"),
]
