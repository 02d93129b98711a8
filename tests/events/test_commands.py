"""`rebuild_stats` checks and rebuilds the event measures too."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from events.models import Measure
from events.services import events_record
from tests.factories import UserFactory


@pytest.mark.django_db
def test_rebuild_stats_check_names_a_wrong_measure_and_changes_nothing():
    UserFactory(username="carol")
    events_record(events=[{"id": "1", "user": "carol", "type": "quiz", "value": 7}])
    Measure.objects.update(longest_streak=5)
    out = StringIO()

    with pytest.raises(CommandError, match="1 measures row"):
        call_command("rebuild_stats", "--check", stdout=out)

    assert "measures carol · quiz" in out.getvalue()
    assert Measure.objects.get().longest_streak == 5


@pytest.mark.django_db
def test_rebuild_stats_repairs_the_measures():
    UserFactory(username="carol")
    events_record(events=[{"id": "1", "user": "carol", "type": "quiz", "value": 7}])
    Measure.objects.update(value_sum=0)

    call_command("rebuild_stats", stdout=StringIO())

    call_command("rebuild_stats", "--check", stdout=StringIO())
    assert Measure.objects.get().value_sum == 7


@pytest.mark.django_db
def test_rebuild_stats_check_finds_a_measure_with_no_events():
    user = UserFactory(username="dave")
    events_record(events=[{"id": "1", "user": "dave", "type": "quiz"}])
    Measure.objects.create(
        user=user,
        type="ghost",
        event_count=1,
        value_sum=1,
        days=1,
        longest_streak=1,
        last_occurred_at=Measure.objects.get().last_occurred_at,
    )

    with pytest.raises(CommandError):
        call_command("rebuild_stats", "--check", stdout=StringIO())
    call_command("rebuild_stats", stdout=StringIO())
    assert list(Measure.objects.values_list("type", flat=True)) == ["quiz"]
