from django.urls import path
from rest_framework.routers import SimpleRouter

from achievements.api import AchievementViewSet, UserAwardViewSet, UserProgressViewSet

router = SimpleRouter()
router.register("achievements", AchievementViewSet, basename="achievement")

urlpatterns = [
    *router.urls,
    path(
        "users/<str:username>/achievements/",
        UserAwardViewSet.as_view({"get": "list", "post": "create"}),
        name="user-awards",
    ),
    path(
        "users/<str:username>/achievements/<str:code>/",
        UserAwardViewSet.as_view({"delete": "destroy"}),
        name="user-award-detail",
    ),
    path(
        "users/<str:username>/progress/",
        UserProgressViewSet.as_view({"get": "list", "post": "create"}),
        name="user-progress",
    ),
]
