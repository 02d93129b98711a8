from django.urls import path

from events.api import EventView, UserMeasureListView

urlpatterns = [
    path("events/", EventView.as_view(), name="events"),
    path("users/<str:username>/events/", UserMeasureListView.as_view(), name="user-measures"),
]
